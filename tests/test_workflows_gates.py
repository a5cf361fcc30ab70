"""`workflows.gates.run` from Python: the defense study it returns and the files it writes."""

from __future__ import annotations

import json

import pytest

from neutrophil.defenses.texts import GATED_PREFIX
from neutrophil.errors import UserError
from neutrophil.models.options import ModelOptions
from neutrophil.workflows import gates
from neutrophil.workflows.gates import GatesConfig


def test_run_returns_and_writes_the_study(tmp_path, monkeypatch):
    monkeypatch.setenv("NEUTROPHIL_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    logged: list[str] = []
    result = gates.run(GatesConfig(model=ModelOptions("tiny"), limit=4), out, log=logged.append)
    assert list(result.arms) == ["none", "prefix", "steer", "gated-steer", "gated-prefix"]
    # Without a prefix file the static arm injects the gated prefix's own text.
    assert result.study["prefix"] == GATED_PREFIX
    assert result.study["prefix_label"] == "static prefix (guard)"
    assert result.study["command"] == ""
    assert json.loads((out / "study.json").read_text()) == result.study
    assert (out / "report.md").read_text() == result.report
    for name, arm in result.arms.items():
        rows = (out / "runs" / name / "responses.jsonl").read_text().splitlines()
        assert len(rows) == len(arm.transcripts) == result.study["tasks"]
    assert (out / "roc.png").is_file() and (out / "threshold.png").is_file()
    assert any("running gated-prefix" in m for m in logged)
    # Every arm is paired with no defense, and the steering and gated arms with the prefix.
    pairs = [(row["arm"], row["reference"]) for row in result.study["paired"]]
    assert pairs == [
        ("prefix", "none"),
        ("steer", "none"),
        ("gated-steer", "none"),
        ("gated-prefix", "none"),
        ("steer", "prefix"),
        ("gated-steer", "prefix"),
        ("gated-prefix", "prefix"),
    ]
    harmful = result.study["n_harmful"]
    for row in result.study["paired"]:
        assert row["refusal_rate"]["n"] == harmful
        a = result.study["arms"][row["arm"]]["rates"]["refusal_rate"]["value"]
        b = result.study["arms"][row["reference"]]["rates"]["refusal_rate"]["value"]
        assert row["refusal_rate"]["diff"] == pytest.approx(a - b, abs=1e-3)
    assert "| gated prefix | static prefix (guard) |" in result.report
    # Each arm's rows are a run directory, persisted as judged: a rerun reuses them all.
    stored = {name: (out / "runs" / name / "responses.jsonl").read_text() for name in result.arms}
    again = gates.run(GatesConfig(model=ModelOptions("tiny"), limit=4), out, log=logged.append)
    for name in result.arms:
        assert (out / "runs" / name / "responses.jsonl").read_text() == stored[name]
        assert again.arms[name].transcripts == result.arms[name].transcripts
        # The time an arm took is the time its rows took, not this rerun's (nothing).
        seconds = result.study["arms"][name]["seconds"]
        assert seconds > 0 and again.study["arms"][name]["seconds"] == pytest.approx(
            seconds, abs=0.11
        )


def test_a_split_without_both_kinds_is_refused(tmp_path):
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(
        '{"id": "b", "kind": "benign", "domain": "chat", "split": "test", "prompt": "Hi."}\n'
    )
    config = GatesConfig(model=ModelOptions("tiny"), tasks=str(tasks))
    with pytest.raises(UserError, match="needs harmful and benign tasks"):
        gates.run(config, tmp_path / "out")
