"""Equalizer hooks: per-row steering, clean removal, and the ActivationEdit protocol."""

import pytest
import torch
from toy import char_tokenizer, tiny_model

from neutrophil.internals.equalizer import Channel, Equalizer, Setting
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


# -- modes: ablate and clamp ------------------------------------------------------------


def block_outputs(model, enc, layers):
    """Each layer's block output as the next block sees it (after our steering hooks)."""
    from neutrophil.internals.layers import hidden_of

    seen: dict[int, torch.Tensor] = {}
    blocks = decoder_layers(model)
    handles = [
        blocks[n].register_forward_hook(
            lambda _m, _i, out, n=n: seen.__setitem__(n, hidden_of(out).detach().clone())
        )
        for n in layers
    ]
    try:
        logits(model, enc)
    finally:
        for h in handles:
            h.remove()
    return seen


def unit(v):
    return v / v.norm()


def test_ablate_removes_the_component_at_the_steered_layers():
    tok, model, eq = setup()
    enc = encode(tok, TEXTS)
    joy = eq.channels[0].vector
    plain = block_outputs(model, enc, [0, 1, 2])
    assert max(float((plain[n] @ unit(joy.directions[n])).abs().max()) for n in (0, 1, 2)) > 0.01
    ablated = eq.set("joy", "ablate").set("anger", 0.0)
    # a hook registered after ours sees the edited output
    with ablated.applied(model, torch.ones(3)):
        seen = block_outputs(model, enc, [0, 1, 2])
    for n in (0, 1, 2):
        assert float((seen[n] @ unit(joy.directions[n])).abs().max()) < 1e-6
    assert no_hooks(model)


def test_ablate_holds_against_the_other_channels_additions():
    tok, model, eq = setup()
    enc = encode(tok, TEXTS)
    anger = eq.channels[1].vector
    # joy is ablated where anger (strength -2) is added: anger's joy component must not survive
    mixed = eq.set("joy", "ablate")
    with mixed.applied(model, torch.ones(3)):
        seen = block_outputs(model, enc, [2])
    joy = eq.channels[0].vector
    assert float((anger.directions[2] @ unit(joy.directions[2])).abs()) > 0.01
    assert float((seen[2] @ unit(joy.directions[2])).abs().max()) < 1e-4


def test_clamp_sets_the_component_in_vector_units():
    tok, model, eq = setup()
    enc = encode(tok, TEXTS)
    clamped = eq.set("joy", "clamp:1.5").set("anger", 0.0)
    joy_channel = clamped.channels[0]
    with clamped.applied(model, torch.ones(3)):
        seen = block_outputs(model, enc, [0, 1, 2])
    for n in (0, 1, 2):
        d = unit(joy_channel.vector.directions[n])
        want = 1.5 * joy_channel.unit(n)
        torch.testing.assert_close(seen[n] @ d, torch.full_like(seen[n][..., 0], want))
    norms = [float(joy_channel.vector.directions[n].norm()) for n in (0, 1, 2)]
    # clamp ramps up as `add` does: by layer n, the norms of layers 0..n summed
    assert [joy_channel.unit(n) for n in (0, 1, 2)] == pytest.approx(
        [norms[0], norms[0] + norms[1], sum(norms)]
    )


def test_modes_differ_per_row():
    tok, model, eq = setup()
    enc = encode(tok, TEXTS)
    joy = eq.channels[0].vector
    base = block_outputs(model, enc, [1])[1]
    strengths = torch.tensor([[0.0, 0.0], [0.0, 0.0], [2.0, 0.0]])
    modes = torch.tensor([[0, 0], [1, 0], [2, 0]])  # untouched, ablate, clamp:2
    with eq.applied_rows(model, strengths, modes):
        seen = block_outputs(model, enc, [1])[1]
    d = unit(joy.directions[1])
    assert torch.equal(seen[0], base[0])
    assert float((seen[1] @ d).abs().max()) < 1e-4
    torch.testing.assert_close(
        seen[2] @ d, torch.full_like(seen[2][..., 0], 2 * eq.channels[0].unit(1))
    )


def test_zero_settings_leave_the_model_bit_identical():
    tok, model, eq = setup()
    enc = encode(tok, TEXTS)
    before = logits(model, enc)
    silent = eq.set("joy", 0.0).set("anger", "add:0")
    with silent.applied(model, torch.ones(3)):
        assert no_hooks(model)  # nothing to do: no hook at all
        during = logits(model, enc)
    assert torch.equal(before, during)
    # a row at scale 0 is not ablated either
    with eq.set("joy", "ablate").applied(model, torch.tensor([0.0, 1.0, 0.0])):
        out = logits(model, enc)
    mask = enc.attention_mask.bool()
    assert torch.equal(out[0][mask[0]], before[0][mask[0]])
    assert not torch.allclose(out[1][mask[1]], before[1][mask[1]])


def test_llama_cpp_control_vectors_refuse_ablate_and_clamp():
    _, _, eq = setup()
    assert set(eq.layer_deltas(1.0)) == {0, 1, 2}
    with pytest.raises(ValueError, match="--engine hf"):
        eq.set("joy", "ablate").layer_deltas(1.0)


@pytest.mark.parametrize(
    ("text", "mode", "value"),
    [
        ("3", "add", 3.0),
        ("-1.5", "add", -1.5),
        ("add:2", "add", 2.0),
        ("ablate", "ablate", 0.0),
        ("clamp:2", "clamp", 2.0),
        ("clamp:-0.5", "clamp", -0.5),
    ],
)
def test_setting_syntax(text, mode, value):
    s = Setting.parse(text)
    assert (s.mode, s.value) == (mode, value)
    assert Setting.parse(str(s)) == s


@pytest.mark.parametrize("text", ["", "clamp", "clamp:x", "mute", "ablate:1", "nan", "inf", "add:"])
def test_bad_settings_say_what_is_expected(text):
    with pytest.raises(ValueError, match="expected|finite"):
        Setting.parse(text)
