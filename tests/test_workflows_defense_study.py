"""The gated-defense study: composition of gated outcomes, thresholds, report, CLI."""

import argparse
import json

import numpy as np
import pytest
import torch

from neutrophil.records import Transcript, Verdict
from neutrophil.workflows.defense_study import (
    compose,
    markdown_report,
    roc,
    sweep_thresholds,
)

torch.set_num_threads(1)


def tr(task_id, kind, refused, tags=()):
    v = Verdict(refused=refused, success=None if kind == "harmful" else not refused)
    if kind == "harmful":
        v = Verdict(refused=refused, harmful_done=not refused)
    return Transcript(
        task_id=task_id,
        kind=kind,
        domain="chat",
        defense={},
        messages=[],
        response="",
        verdict=v,
        tags=tuple(tags),
    )


def test_compose_takes_flagged_rows_from_the_defended_run():
    defended = [tr("a", "harmful", True), tr("b", "benign", True)]
    plain = [tr("a", "harmful", False), tr("b", "benign", False)]
    out = compose(np.array([True, False]), defended, plain)
    assert [t.verdict.refused for t in out] == [True, False]
    with pytest.raises(ValueError):
        compose(np.array([True]), defended, plain)


def test_sweep_includes_gate_threshold_and_extremes():
    scores = np.array([-2.0, -1.0, 0.5, 3.0])
    ts = sweep_thresholds(scores, 0.25)
    assert 0.25 in ts and ts == sorted(ts)
    assert ts[0] < scores.min() and ts[-1] > scores.max()  # all flagged / none flagged


def test_roc_perfect_and_degenerate():
    r = roc(np.array([0.1, 0.2, 0.8, 0.9]), np.array([False, False, True, True]))
    assert r["auroc"] == 1.0 and r["tpr"][-1] == 1.0
    assert roc(np.array([0.1, 0.2]), np.array([True, True]))["auroc"] is None


def test_gates_cli_on_tiny_model(tmp_path, monkeypatch):
    from neutrophil.cli import gates

    monkeypatch.setenv("NEUTROPHIL_CACHE", str(tmp_path / "cache"))
    prefix = tmp_path / "best_prefix.txt"
    prefix.write_text("Let me think about safety first.\n")
    ap = argparse.ArgumentParser()
    gates.register(ap.add_subparsers())
    out = tmp_path / "out"
    args = ap.parse_args(
        ["gates", "--model", "tiny", "--limit", "4", "--prefix-file", str(prefix)]
        + ["--out", str(out)]
    )
    assert args.func(args) == 0
    study = json.loads((out / "study.json").read_text())
    assert list(study["arms"]) == ["none", "prefix", "steer", "gated-steer", "gated-prefix"]
    assert study["prefix"] == "Let me think about safety first."
    assert study["prefix_label"] == "static prefix (PING)"
    for arm in study["arms"].values():
        rr = arm["rates"]["refusal_rate"]
        assert rr["n"] == study["n_harmful"] and 0 <= rr["lo"] <= rr["value"] <= rr["hi"] <= 1
    # the composition is checked against the real gated runs
    assert set(study["composition_agreement"]) == {"gated-steer", "gated-prefix"}
    # all-flagged threshold reproduces the ungated runs exactly
    lowest = study["sweep"][0]
    assert lowest["flagged_harmful"] == 1.0
    assert lowest["gated-prefix"] == study["arms"]["prefix"]["rates"]
    assert lowest["gated-steer"] == study["arms"]["steer"]["rates"]
    for f in ("report.md", "roc.png", "threshold.png", "runs/none/responses.jsonl"):
        assert (out / f).exists()
    assert "| gated prefix |" in (out / "report.md").read_text()
    assert "static prefix (PING)" in markdown_report(study)
