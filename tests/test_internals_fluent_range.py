"""The fluent range: the climb over strengths, its cache, and the rescaled built-ins."""

from __future__ import annotations

import json

import pytest
import torch

from neutrophil.internals import fluent_range
from neutrophil.internals.fluent_range import FluentRange, cached, climb
from neutrophil.internals.vector import SteeringVector
from neutrophil.models import load_backend


def test_the_climb_stops_at_the_first_strength_that_is_not_fluent():
    asked = []

    def share(s: float) -> float:
        asked.append(s)
        return 1.0 if s < 0 else {0.0: 0.95, 1.0: 1.0, 2.0: 0.9, 3.0: 0.85}.get(s, 0.0)

    found = climb("joy", share)
    assert found.limit == 2.0 and found.scale == 0.5
    assert asked == [0.0, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0]  # nothing past the break
    assert found.shares == {"+1": 1.0, "-1": 1.0, "+2": 0.9, "-2": 1.0, "+3": 0.85, "-3": 1.0}
    # one sign is enough to break, and the first step is the floor
    assert climb("x", lambda s: 0.95 if s >= 0 else 0.5).limit == 1.0
    # unsteered text that is not fluent: nothing to calibrate against
    none = climb("x", lambda s: 0.5)
    assert none.limit is None and none.scale == 1.0 and none.shares == {}


def test_measure_on_a_model_whose_text_is_not_fluent(tmp_path):
    """The random tiny model: one unsteered batch, then no calibration (scale 1), cached."""
    tiny = load_backend("tiny", batch_size=8)
    vec = SteeringVector({1: torch.ones(32)})
    found = cached(tiny, "joy", vec, tmp_path)
    assert found.limit is None and found.unsteered < fluent_range.FLUENT_SHARE
    (path,) = tmp_path.iterdir()
    assert json.loads(path.read_text())["concept"] == "joy"
    assert cached(tiny, "joy", vec, tmp_path) == found  # read back, not measured again
    path.write_text("{torn")
    assert cached(tiny, "joy", vec, tmp_path) == found  # a torn file is measured again


def test_the_table_marks_strengths_not_reached():
    r = FluentRange("joy", 0.95, {"+1": 1.0, "-1": 0.5}, 1.0)
    row = fluent_range.table([r]).splitlines()[-1]
    assert row.startswith("| joy | 95% | 100% | 50% | – |") and row.endswith("| 1 |")


@pytest.mark.parametrize("fluent", [True, False])
def test_calibrated_built_ins_carry_their_fluent_limit(tmp_path, monkeypatch, fluent):
    from neutrophil.internals.library import calibrated_vector

    monkeypatch.setenv("NEUTROPHIL_CACHE", str(tmp_path))
    tiny = load_backend("tiny", batch_size=8)
    vec = calibrated_vector(tiny, "joy", fluent=fluent)
    assert ("fluent_limit" in vec.metadata) is fluent
    plain = calibrated_vector(tiny, "joy", fluent=False)
    # the tiny model's text is never fluent: the scale stays 1
    assert all(torch.equal(vec.directions[n], plain.directions[n]) for n in plain.layers)
