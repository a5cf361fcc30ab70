"""`workflows.demo.run` from Python on the tiny model: what it returns, writes and resumes."""

from __future__ import annotations

import json

import pytest

from neutrophil.agent import Budgets
from neutrophil.errors import UserError
from neutrophil.models.options import ModelOptions
from neutrophil.workflows import demo
from neutrophil.workflows.demo import DemoConfig

LABELS = ["no defense", "guard prefix (hand-written)", "PING prefix (searched)"]


def test_run_returns_and_writes_every_stage(tmp_path):
    config = DemoConfig(
        model=ModelOptions("tiny", batch_size=8),
        limit=6,
        search_tasks=4,
        rounds=1,
        candidates=1,
        budgets=Budgets(chat=8, code=8, web_step=8, web_steps=2),
    )
    out = tmp_path / "demo"
    logged: list[str] = []
    result = demo.run(config, out, progress=False, log=logged.append)
    assert result.model == "tiny-llama" and result.report == out / "report.html"
    assert [r.label for r in result.runs] == LABELS
    assert all(len(r.transcripts) == len(result.runs[0].transcripts) > 0 for r in result.runs)
    assert result.best_prefix
    assert (out / "ping-search" / "best_prefix.txt").read_text() == result.best_prefix + "\n"
    for stage in ("none", "guard", "ping"):
        assert (out / stage / "responses.jsonl").is_file()
    assert "<html" in result.report.read_text().lower()
    paired = json.loads((out / "paired.json").read_text())
    assert list(paired) == list(result.paired) == LABELS[1:]
    assert {"refusal_rate", "success_rate"} <= set(paired[LABELS[1]])
    assert logged[0].startswith("model tiny-llama; 6 held-out test tasks")

    # A rerun reads every stage back from its run store.
    again = demo.run(config, out, progress=False, log=lambda _m: None)
    assert again.best_prefix == result.best_prefix
    assert json.loads((out / "paired.json").read_text()) == paired


def test_bad_settings_are_refused_before_anything_is_written(tmp_path):
    with pytest.raises(UserError, match="--search-tasks must be at least 1, got 0"):
        demo.run(DemoConfig(model=ModelOptions("tiny"), search_tasks=0), tmp_path / "x")
    assert not (tmp_path / "x").exists()
