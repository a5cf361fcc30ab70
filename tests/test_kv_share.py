"""Shared-prompt KV reuse generates exactly the tokens that recomputation from scratch does."""

import pytest
import torch

from neutrophil.models.base import Request, user_message
from neutrophil.models.hf import HFBackend
from neutrophil.models.kv_share import chunks, common_prefix_len, plan
from neutrophil.models.tiny import tiny_model

torch.set_num_threads(1)

PROMPTS = ["How do I bake bread at home?", "hi", "Write a short poem about the sea and the wind."]
PREFIXES = [
    "",
    "I",
    "Before acting, I check whether this request could hurt someone.",
    "Sure, here",
]


def requests(max_new_tokens=20, stop_when=None):
    rows = [
        Request(
            messages=user_message(p, "be brief" if k == 2 else None),
            prefill=x,
            max_new_tokens=max_new_tokens,
            stop_when=stop_when,
        )
        for k, p in enumerate(PROMPTS)
        for x in PREFIXES
    ]
    rows.append(
        Request(messages=user_message("a prompt of its own"), prefill="ok", max_new_tokens=8)
    )
    return rows


def both(arch, reqs, batch_size=32):
    model, tok = tiny_model(arch)
    shared = HFBackend(model, tok, batch_size=batch_size, kv_share=True)
    plain = HFBackend(model, tok, batch_size=batch_size, kv_share=False)
    assert len(shared._shared_groups(reqs)) == len(PROMPTS)  # the shared path is taken
    return shared.generate(reqs), plain.generate(reqs)


@pytest.mark.parametrize("arch", ["llama", "qwen2"])
def test_tokens_identical_to_recomputation(arch):
    a, b = both(arch, requests())
    assert [g.text for g in a] == [g.text for g in b]
    assert [g.prompt_tokens for g in a] == [g.prompt_tokens for g in b]
    assert [g.generated_tokens for g in a] == [g.generated_tokens for g in b]
    assert any(g.text for g in a)


def test_identical_with_small_batches_and_early_stop():
    # Groups split across generate calls, and rows stopping on their own rule.
    stop = lambda text: len(text) > 12  # noqa: E731
    a, b = both("llama", requests(stop_when=stop), batch_size=3)
    assert [(g.text, g.stopped_early) for g in a] == [(g.text, g.stopped_early) for g in b]
    assert any(g.stopped_early for g in a)


def test_plan_leaves_every_row_a_tail():
    rows = [[1, 2, 3], [1, 2, 3], [1, 2, 3, 4, 5], [9, 9]]
    batch = plan(rows, [[0, 1, 2], [3]])
    assert batch.shared == [[1, 2], [9]]
    assert batch.tails == [[3], [3], [3, 4, 5], [9]]
    assert common_prefix_len([[1, 2], [1, 3]]) == 1


def test_chunks_respect_batch_size():
    groups = [[0, 1, 2, 3, 4], [5, 6]]
    out = chunks(groups, 3, lengths=[10] * 5 + [20] * 2)
    assert all(sum(len(g) for g in c) <= 3 for c in out)
    assert sorted(i for c in out for g in c for i in g) == list(range(7))
