"""Capture equals HF hidden states at the documented index, with left padding."""

import pytest
import torch
from toy import char_tokenizer, tiny_model

from neutrophil.internals.capture import capture, capture_tokens
from neutrophil.internals.layers import decoder_layers
from neutrophil.internals.tokens import encode

torch.set_num_threads(1)
ARCHS = ["llama", "qwen2", "gemma3", "gpt2"]
PROMPTS = ["hello there, how are you?", "hi", "a medium length prompt"]
CONTS = [" Sure", " I cannot help with that", "!"]


def hf_hidden(model, tok, prompt, cont=""):
    """Unpadded single-row reference: HF hidden_states for one text."""
    enc = encode(tok, [prompt], [cont])
    with torch.no_grad():
        out = model(input_ids=enc.input_ids, output_hidden_states=True)
    return out.hidden_states, enc.prompt_lengths[0]


@pytest.mark.parametrize("arch", ARCHS)
def test_last_and_prompt_end_match_hidden_states(arch):
    tok = char_tokenizer()
    model = tiny_model(arch, layers=3)
    n = len(decoder_layers(model))
    # The last block is compared separately: HF applies the final norm to hidden_states[-1].
    layers = list(range(n - 1))
    last = capture(model, tok, PROMPTS, CONTS, layers=layers, at="last")
    pend = capture(model, tok, PROMPTS, CONTS, layers=layers, at="prompt_end")
    assert last.acts.shape == (3, n - 1, 32)
    for row, (p, c) in enumerate(zip(PROMPTS, CONTS, strict=True)):
        hs, plen = hf_hidden(model, tok, p, c)
        for i, layer in enumerate(layers):
            torch.testing.assert_close(
                last.acts[row, i], hs[layer + 1][0, -1], atol=1e-4, rtol=1e-4
            )
            torch.testing.assert_close(
                pend.acts[row, i], hs[layer + 1][0, plen - 1], atol=1e-4, rtol=1e-4
            )
    # Padded rows differ in length, so a wrong padding treatment would show above; make sure
    # the batch really was padded.
    assert len({len(p + c) for p, c in zip(PROMPTS, CONTS, strict=True)}) > 1


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_last_block_is_pre_final_norm(arch):
    tok = char_tokenizer()
    model = tiny_model(arch, layers=2)
    cap = capture(model, tok, ["some text"], layers=[1])
    enc = encode(tok, ["some text"])
    with torch.no_grad():
        seen = {}
        h = decoder_layers(model)[1].register_forward_hook(lambda m, i, o: seen.update(o=o))
        model(input_ids=enc.input_ids)
        h.remove()
    out = seen["o"] if torch.is_tensor(seen["o"]) else seen["o"][0]
    torch.testing.assert_close(cap.layer(1)[0], out[0, -1], atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("arch", ARCHS)
def test_every_token_matches_unpadded(arch):
    tok = char_tokenizer()
    model = tiny_model(arch, layers=2)
    rows = capture_tokens(model, tok, PROMPTS, CONTS, layers=[0], batch_size=3)
    for row, (p, c) in zip(rows, zip(PROMPTS, CONTS, strict=True), strict=True):
        hs, plen = hf_hidden(model, tok, p, c)
        assert row.prompt_len == plen
        assert len(row.tokens) == hs[1].shape[1]
        torch.testing.assert_close(row.layer(0), hs[1][0], atol=1e-4, rtol=1e-4)


def test_negative_layers_and_bad_layer():
    tok = char_tokenizer()
    model = tiny_model("llama", layers=3)
    assert capture(model, tok, ["x"], layers=[-1]).layers == (2,)
    with pytest.raises(ValueError):
        capture(model, tok, ["x"], layers=[3])


def test_hooks_removed_after_capture():
    tok = char_tokenizer()
    model = tiny_model("llama", layers=2)
    capture(model, tok, ["abc"], layers=[0])
    assert all(len(b._forward_hooks) == 0 for b in decoder_layers(model))


@pytest.mark.parametrize("arch", ARCHS)
def test_shared_prefix_gives_the_same_activations(arch):
    """Rows sharing a long token prefix (a chat template's system turn) run it once."""
    from neutrophil.internals.render import chat_prompt

    tok = char_tokenizer()
    model = tiny_model(arch, layers=3)
    system = "You are a helpful assistant."
    prompts = [chat_prompt(tok, p, system) for p in PROMPTS]
    for at in ("last", "prompt_end"):
        shared = capture(model, tok, prompts, CONTS, layers=[0, 1], at=at, batch_size=2)
        plain = capture(
            model, tok, prompts, CONTS, layers=[0, 1], at=at, batch_size=2, share_prefix=False
        )
        torch.testing.assert_close(shared.acts, plain.acts, atol=1e-4, rtol=1e-4)
    # and against the unpadded single-row reference
    hs, _ = hf_hidden(model, tok, prompts[1], CONTS[1])
    last = capture(model, tok, prompts, CONTS, layers=[0])
    torch.testing.assert_close(last.acts[1, 0], hs[1][0, -1], atol=1e-4, rtol=1e-4)
