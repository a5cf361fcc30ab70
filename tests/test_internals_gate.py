"""Gates and the steering defenses on a tiny random model (real HF backend)."""

import numpy as np
import pytest
import torch
from toy import char_tokenizer, tiny_model

from neutrophil.defenses.base import Defense
from neutrophil.defenses.steering import GatedPrefixDefense, GatedSteerDefense, SteerDefense
from neutrophil.errors import UserError
from neutrophil.internals.capture import capture
from neutrophil.internals.gate import Gate
from neutrophil.internals.vector import SteeringVector
from neutrophil.models.base import Request, user_message

torch.set_num_threads(1)
# Two trivially separable "classes" for a random model: texts made of one letter or another.
PRESENT = [("x" * n) + " zz" for n in range(4, 12)]
ABSENT = [("a" * n) + " bb" for n in range(4, 12)]


def test_gate_separates_and_round_trips(tmp_path):
    tok, model = char_tokenizer(), tiny_model("llama")
    gate = Gate.fit(model, tok, PRESENT, ABSENT, layer=1)
    flags = gate.flags(model, tok, PRESENT + ABSENT)
    assert flags.tolist() == [True] * 8 + [False] * 8
    assert gate.flags(model, tok, PRESENT, threshold=1e9).sum() == 0
    p = tmp_path / "gate.json"
    gate.save(p)
    back = Gate.load(p)
    np.testing.assert_allclose(
        back.scores(model, tok, ABSENT), gate.scores(model, tok, ABSENT), rtol=1e-5
    )
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(UserError):
        Gate.load(tmp_path / "bad.json")


def test_vector_gate_projects_on_condition_vector():
    tok, model = char_tokenizer(), tiny_model("llama")
    cap = capture(model, tok, PRESENT + ABSENT, layers=[1])
    acts = cap.layer(1)
    v = SteeringVector({1: acts[:8].mean(0) - acts[8:].mean(0)})
    gate = Gate.from_vector_acts(v, 1, acts[:8], acts[8:])
    s = gate.scores_from_acts(acts)
    assert gate.kind == "vector"
    assert s[:8].mean() > 0 > s[8:].mean()


class TinyBackend:
    """The real HF backend when the lead's module is importable, on a tiny model."""

    def __new__(cls):
        from neutrophil.models.hf import HFBackend

        return HFBackend(tiny_model("llama"), char_tokenizer(), name="tiny-test")


def test_defenses_set_edits_per_row():
    backend = TinyBackend()
    gate = Gate.fit(
        backend.model,
        backend.tokenizer,
        [backend.render(user_message(p)) for p in PRESENT],
        [backend.render(user_message(p)) for p in ABSENT],
        layer=1,
    )
    vec = SteeringVector({1: torch.ones(32)}, {"dataset": "d"})
    reqs = [
        Request(user_message(PRESENT[0]), max_new_tokens=8),
        Request(user_message(ABSENT[0]), max_new_tokens=8),
    ]
    steer = SteerDefense(vec, 3.0)
    gated = GatedSteerDefense(vec, gate, 3.0)
    gprefix = GatedPrefixDefense(gate, "Careful. ")
    for d in (steer, gated, gprefix):
        assert isinstance(d, Defense)
        assert d.describe()["name"] == d.name
    assert [r.edit_scale for r in steer.apply(backend, reqs)] == [3.0, 3.0]
    out = gated.apply(backend, reqs)
    assert [r.edit_scale for r in out] == [3.0, 0.0] and all(r.edit is vec for r in out)
    out = gprefix.apply(backend, reqs)
    assert [r.prefill for r in out] == ["Careful. ", ""]
    # the backend honours the per-row scales: an unflagged row generates as if unsteered
    gens = backend.generate([*gated.apply(backend, reqs), *reqs])
    assert gens[1].text == gens[3].text
    assert gens[0].text != gens[2].text


def test_default_for_fits_on_builtin_split_and_caches(tmp_path, monkeypatch):
    from neutrophil.defenses.steering import build_local_defense

    monkeypatch.setenv("NEUTROPHIL_CACHE", str(tmp_path))
    backend = TinyBackend()
    d = build_local_defense(
        "gated-steer", backend=backend, options={"strength": "2", "layers": "1"}
    )
    assert isinstance(d, GatedSteerDefense) and d.strength == 2.0
    assert d.vector.layers == (1,)
    files = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert files == ["gate.json", "refusal.safetensors"]
    again = build_local_defense("gated-prefix", backend=backend, options={"layers": "1"})
    assert again.gate.layer == d.gate.layer  # loaded from the cache
    assert torch.allclose(again.gate.probe.weight, d.gate.probe.weight)
    with pytest.raises(UserError):
        build_local_defense("steer", backend=backend, options={"strength": "lots"})
