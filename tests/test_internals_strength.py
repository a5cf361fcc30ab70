"""Calibrated steering strengths: units tied to the residual-stream norm."""

import pytest
import torch
from toy import char_tokenizer, tiny_model

from neutrophil.internals.capture import capture_tokens
from neutrophil.internals.render import chat_prompt
from neutrophil.internals.strength import (
    _NEUTRAL,
    UNIT,
    calibrate,
    default_layers,
    residual_norms,
)
from neutrophil.internals.vector import SteeringVector

torch.set_num_threads(1)


def raw_vector():
    g = torch.Generator().manual_seed(0)
    return SteeringVector({n: torch.randn(8, generator=g) * (n + 1) for n in range(4)})


def test_calibrated_directions_keep_direction_and_get_residual_scale():
    vec = raw_vector()
    norms = {0: 10.0, 1: 20.0, 2: 40.0, 3: 80.0}
    cal = calibrate(vec, norms, layers=[1, 2])
    assert cal.layers == (1, 2)
    for n in (1, 2):
        cos = torch.nn.functional.cosine_similarity(cal.directions[n], vec.directions[n], dim=0)
        assert float(cos) == pytest.approx(1.0, abs=1e-6)
        # each layer carries its share of UNIT x that layer's residual norm
        assert float(cal.directions[n].norm()) == pytest.approx(UNIT * norms[n] / 2, rel=1e-5)
    assert "calibrated" in cal.metadata["units"]


def test_strength_is_independent_of_the_raw_length_and_of_the_layer_count():
    vec = raw_vector()
    norms = {n: 50.0 for n in range(4)}
    # the raw length does not matter ...
    a = calibrate(vec, norms)
    b = calibrate(vec * 100.0, norms)
    for n in a.layers:
        torch.testing.assert_close(a.directions[n], b.directions[n])

    # ... and the total shift summed over layers is the same for 1 or 4 layers
    def total(v):
        return sum(float(d.norm()) for d in v.directions.values())

    assert total(calibrate(vec, norms, [2])) == pytest.approx(total(a), rel=1e-5)
    assert total(a) == pytest.approx(UNIT * 50.0, rel=1e-5)


def test_calibrate_errors():
    vec = raw_vector()
    with pytest.raises(ValueError, match="none of the requested layers"):
        calibrate(vec, {9: 1.0}, layers=[9])
    with pytest.raises(ValueError, match="no residual norm"):
        calibrate(vec, {0: 1.0}, layers=[0, 1])


def test_default_layers_are_the_middle_third():
    assert default_layers(30) == tuple(range(10, 21))
    assert default_layers(3) == (1, 2)
    assert default_layers(1) == (0,)
    assert 0 not in default_layers(2)


def test_residual_norms_are_median_token_norms():
    model, tok = tiny_model("llama", layers=3), char_tokenizer()
    norms = residual_norms(model, tok, layers=[0, 2])
    assert set(norms) == {0, 2}
    rows = capture_tokens(model, tok, [chat_prompt(tok, p) for p in _NEUTRAL], layers=[0, 2])
    for i, n in enumerate((0, 2)):
        toks = torch.cat([r.acts[1:, i].norm(dim=-1) for r in rows])
        assert norms[n] == pytest.approx(float(toks.median()), rel=1e-5)
        assert norms[n] > 0
