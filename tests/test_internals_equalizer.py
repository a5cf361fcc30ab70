"""Equalizer hooks: per-row steering, clean removal, and the ActivationEdit protocol."""

import pytest
import torch
from toy import char_tokenizer, tiny_model

from neutrophil.internals.equalizer import Channel, Equalizer
from neutrophil.internals.layers import decoder_layers
from neutrophil.internals.tokens import encode
from neutrophil.internals.vector import SteeringVector
from neutrophil.models.base import ActivationEdit

torch.set_num_threads(1)
TEXTS = ["first row text", "second", "third row here"]


def setup(arch="llama"):
    tok = char_tokenizer()
    model = tiny_model(arch, layers=3)
    g = torch.Generator().manual_seed(1)
    joy = SteeringVector({n: torch.randn(32, generator=g) for n in (0, 1, 2)}, {"method": "mean"})
    anger = SteeringVector({n: torch.randn(32, generator=g) for n in (1, 2)}, {"method": "mean"})
    eq = Equalizer((Channel("joy", joy, 4.0), Channel("anger", anger, -2.0, layers=(2, 2))))
    return tok, model, eq


def logits(model, enc):
    with torch.no_grad():
        return model(
            input_ids=enc.input_ids,
            attention_mask=enc.attention_mask,
            position_ids=enc.position_ids,
        ).logits


def no_hooks(model):
    return all(len(b._forward_hooks) == 0 for b in decoder_layers(model))


@pytest.mark.parametrize("arch", ["llama", "gpt2"])
def test_model_unchanged_after_context(arch):
    tok, model, eq = setup(arch)
    enc = encode(tok, TEXTS)
    before = logits(model, enc)
    with eq.applied(model, torch.ones(3)):
        during = logits(model, enc)
    after = logits(model, enc)
    assert not torch.allclose(before, during)
    assert torch.equal(before, after)
    assert no_hooks(model)


def test_only_nonzero_rows_are_steered():
    tok, model, eq = setup()
    enc = encode(tok, TEXTS)
    base = logits(model, enc)
    with eq.applied(model, torch.tensor([0.0, 1.5, 0.0])):
        out = logits(model, enc)
    mask = enc.attention_mask.bool()
    assert torch.equal(out[0][mask[0]], base[0][mask[0]])
    assert torch.equal(out[2][mask[2]], base[2][mask[2]])
    assert not torch.allclose(out[1][mask[1]], base[1][mask[1]])


def test_per_row_generation():
    tok, model, eq = setup()
    enc = encode(tok, TEXTS)
    kw = dict(attention_mask=enc.attention_mask, max_new_tokens=6, do_sample=False, pad_token_id=0)
    with torch.no_grad():
        base = model.generate(enc.input_ids, **kw)
        with eq.applied(model, torch.tensor([0.0, 0.0, 30.0])):
            steered = model.generate(enc.input_ids, **kw)
    assert torch.equal(base[:2], steered[:2])
    assert not torch.equal(base[2], steered[2])
    assert no_hooks(model)


def test_channels_add_up_and_layer_range():
    tok, model, eq = setup()
    d = eq.deltas(torch.tensor([[1.0, 1.0]]))
    joy, anger = eq.channels[0].vector, eq.channels[1].vector
    assert set(d) == {0, 1, 2}  # anger limited to layer 2
    torch.testing.assert_close(d[1][0], joy.directions[1])
    torch.testing.assert_close(d[2][0], joy.directions[2] + anger.directions[2])
    # applied(): strength * row scale
    s = eq.applied.__self__.channels
    assert [c.strength for c in s] == [4.0, -2.0]
    assert eq.set("joy", 0.0).channels[0].strength == 0.0
    assert eq.with_channel(Channel("joy", joy, 1.0)).names == ("anger", "joy")


def test_applied_rows_matches_summed_vector():
    tok, model, eq = setup()
    enc = encode(tok, TEXTS[:2])
    strengths = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    with eq.applied_rows(model, strengths):
        a = logits(model, enc)
    joy = eq.channels[0].vector
    with joy.applied(model, torch.tensor([1.0, 0.0])):
        b = logits(model, enc)
    torch.testing.assert_close(a, b)


def test_exception_inside_still_removes_hooks():
    tok, model, eq = setup()
    enc = encode(tok, TEXTS)
    before = logits(model, enc)
    with pytest.raises(RuntimeError, match="boom"), eq.applied(model, torch.ones(3)):
        raise RuntimeError("boom")
    assert no_hooks(model)
    assert torch.equal(before, logits(model, enc))


def test_row_count_mismatch_is_an_error():
    tok, model, eq = setup()
    enc = encode(tok, TEXTS)
    with pytest.raises(ValueError, match="rows"), eq.applied(model, torch.ones(2)):
        logits(model, enc)
    assert no_hooks(model)


def test_protocol():
    _, _, eq = setup()
    assert isinstance(eq, ActivationEdit)
    assert isinstance(eq.channels[0].vector, ActivationEdit)
