"""The row-dropping greedy decoder picks generate()'s tokens and really shrinks the batch."""

import pytest
import torch

from neutrophil.internals.vector import SteeringVector
from neutrophil.models.base import Request, user_message, whole_chars
from neutrophil.models.hf import HFBackend
from neutrophil.models.tiny import tiny_model

torch.set_num_threads(1)

PROMPTS = ["hello", "write a poem about rain", "x", "what is 2+2?", "a much longer prompt " * 4]


def reference(model, tok, request: Request) -> list[int]:
    """One row alone through `model.generate`, greedy, EOS excluded."""
    text = tok.apply_chat_template(
        list(request.messages), tokenize=False, add_generation_prompt=True
    )
    enc = tok(text + request.prefill, return_tensors="pt", add_special_tokens=False)
    out = model.generate(
        **enc,
        max_new_tokens=request.max_new_tokens,
        do_sample=False,
        temperature=None,
        top_p=None,
        top_k=None,
        pad_token_id=tok.pad_token_id,
        eos_token_id=tok.eos_token_id,
    )
    tokens = out[0, enc.input_ids.shape[1] :].tolist()
    return tokens[: tokens.index(tok.eos_token_id)] if tok.eos_token_id in tokens else tokens


@pytest.mark.parametrize("arch", ["llama", "qwen2", "gemma3_text", "gpt2"])
def test_tokens_equal_generate_with_mixed_budgets(arch):
    model, tok = tiny_model(arch)
    backend = HFBackend(model, tok, kv_share=False)
    rows = [
        Request(user_message(p), prefill="Sure" if k % 2 else "", max_new_tokens=3 + 4 * k)
        for k, p in enumerate(PROMPTS)
    ]
    got = backend.generate(rows)
    for row, gen in zip(rows, got, strict=True):
        want = reference(model, tok, row)
        assert gen.text == whole_chars(tok.decode(want, skip_special_tokens=True))
        assert gen.generated_tokens >= len(want)


def forward_batch_sizes(model):
    sizes: list[int] = []
    handle = model.register_forward_pre_hook(
        lambda _m, _a, kw: sizes.append(kw["input_ids"].shape[0]), with_kwargs=True
    )
    return sizes, handle


def test_finished_rows_leave_the_batch():
    model, tok = tiny_model("llama")
    backend = HFBackend(model, tok, kv_share=False)
    rows = [Request(user_message(p), max_new_tokens=2 + 6 * k) for k, p in enumerate(PROMPTS)]
    sizes, handle = forward_batch_sizes(model)
    try:
        got = backend.generate(rows)
    finally:
        handle.remove()
    assert sizes[0] == len(rows)
    assert sizes[-1] == 1  # only the longest-budget row is still decoding at the end
    assert sorted(sizes, reverse=True) == sizes
    # Each step costs one row per row still running: the sum is the tokens generated.
    assert sum(sizes) == sum(g.generated_tokens for g in got)


def test_stop_rule_drops_its_row_and_leaves_others_untouched():
    model, tok = tiny_model("llama")
    backend = HFBackend(model, tok, kv_share=False)
    stop = lambda text: len(text) >= 4  # noqa: E731
    rows = [Request(user_message(p), max_new_tokens=24, stop_when=stop) for p in PROMPTS[:2]]
    rows += [Request(user_message(p), max_new_tokens=24) for p in PROMPTS[2:]]
    got = backend.generate(rows)
    assert all(g.stopped_early and len(g.text) >= 4 for g in got[:2])
    for row, gen in zip(rows[2:], got[2:], strict=True):
        assert not gen.stopped_early
        assert gen.text == whole_chars(
            tok.decode(reference(model, tok, row), skip_special_tokens=True)
        )


def test_per_row_edits_follow_their_rows_when_the_batch_shrinks():
    model, tok = tiny_model("llama")
    backend = HFBackend(model, tok, kv_share=False)
    hidden = model.config.hidden_size
    vector = SteeringVector({1: torch.randn(hidden, generator=torch.Generator().manual_seed(0))})
    scales = [0.0, 4.0, 0.0, -4.0]
    rows = [
        Request(user_message(p), max_new_tokens=2 + 5 * k, edit=vector, edit_scale=s)
        for k, (p, s) in enumerate(zip(PROMPTS, scales, strict=False))
    ]
    together = backend.generate(rows)
    alone = [backend.generate([r])[0] for r in rows]
    assert [g.text for g in together] == [g.text for g in alone]
    unsteered = backend.generate([Request(user_message(PROMPTS[3]), max_new_tokens=17)])[0]
    assert together[3].text != unsteered.text  # the edit did act on the last, long row
