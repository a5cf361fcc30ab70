"""The run store: rows survive kills and corruption, and are never mixed across run keys.

The store itself is tested in process on tiny hand-made rows; what a user sees (kill -9 of
`neutrophil eval`, a deleted or torn run.json, a corrupt line, a changed judge) runs through
the command line on the tiny random model: the kill in a real subprocess, the rest through
the same `main` in this process (`run_cli`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from neutrophil.agent import Budgets
from neutrophil.models.base import Backend
from neutrophil.records import VERDICTS, Transcript, Verdict
from neutrophil.runstore import RunKey, RunStore, run_key
from neutrophil.search.store import SearchStore
from neutrophil.tasks.task import Task
from tests.conftest import run_cli

ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
KEY = RunKey("hf:aaaa", "hf", "pattern", "chat=128", name="tiny-llama")
OTHER = RunKey("hf:bbbb", "hf", "pattern", "chat=128", name="tiny-qwen2")


def task(i: int, prompt: str = "Name a colour.") -> Task:
    return Task(id=f"t{i}", kind="benign", domain="chat", prompt=f"{prompt} ({i})")


def transcript(t: Task, response: str = "Blue.") -> Transcript:
    return Transcript(
        task_id=t.id,
        kind=t.kind,
        domain=t.domain,
        defense={"name": "none"},
        messages=[{"role": "user", "content": t.prompt}],
        response=response,
        verdict=Verdict(refused=False, success=True, judge="pattern"),
        prompt_tokens=5,
        generated_tokens=2,
    )


def store_with(path: Path, n: int, key: RunKey = KEY, **kw) -> RunStore:
    store = RunStore(path, **kw)
    ts = [task(i) for i in range(n)]
    store.add(key, [(t, transcript(t)) for t in ts])
    return store


# -- the store in process --------------------------------------------------------------
@pytest.mark.parametrize("compact", [False, True])
def test_rows_come_back_only_under_their_exact_key(tmp_path, compact):
    path = tmp_path / "rows.jsonl"
    store_with(path, 3, compact=compact)
    again = RunStore(path, compact=compact)
    assert len(again) == 3
    t0 = task(0)
    got = again.get(KEY, {"name": "none"}, t0)
    assert got is not None and got.response == "Blue." and got.verdict.success is True
    assert again.get(OTHER, {"name": "none"}, t0) is None  # another model
    assert again.get(KEY, {"name": "prefix", "prefix": "x"}, t0) is None  # another defense
    # The same id with another prompt is another task: not reused.
    assert again.get(KEY, {"name": "none"}, task(0, "Name a fruit.")) is None


def test_a_corrupt_middle_line_costs_only_itself(tmp_path, capsys):
    path = tmp_path / "rows.jsonl"
    store_with(path, 3)
    lines = path.read_bytes().split(b"\n")
    lines[1] = b'{"task_id": "t1", \xff\xfe broken'
    path.write_bytes(b"\n".join(lines))
    store = RunStore(path)
    assert len(store) == 2 and store.get(KEY, {"name": "none"}, task(2)) is not None
    assert f"{path}:2: corrupt line skipped" in capsys.readouterr().err
    # Appending the redone row leaves every stored byte in place.
    before = path.read_bytes()
    store.add(KEY, [(task(1), transcript(task(1)))])
    assert path.read_bytes().startswith(before) and len(RunStore(path)) == 3


def test_a_torn_last_line_is_cut_before_the_next_row(tmp_path, capsys):
    path = tmp_path / "rows.jsonl"
    store_with(path, 2)
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"task_id": "t2", "resp')  # killed mid-write
    store = RunStore(path)
    assert "rows.jsonl:3: incomplete line dropped" in capsys.readouterr().err
    store.add(KEY, [(task(2), transcript(task(2)))])
    assert path.read_bytes().startswith(whole)
    assert len(RunStore(path)) == 3 and "corrupt" not in capsys.readouterr().err


def test_a_last_row_without_its_newline_is_kept(tmp_path):
    path = tmp_path / "rows.jsonl"
    store_with(path, 2)
    path.write_bytes(path.read_bytes().rstrip(b"\n"))
    store = RunStore(path)
    assert len(store) == 2
    store.add(KEY, [(task(2), transcript(task(2)))])
    assert len(RunStore(path)) == 3 and len(path.read_text().splitlines()) == 3


def test_search_store_keeps_two_judges_apart(tmp_path):
    """Verdicts of another judge (or budgets) are stored beside, never reused."""

    class Named(Backend):
        name = "tiny-llama"

    class Judge:
        def __init__(self, name: str) -> None:
            self.name = name

    patterns = run_key(Named(), Judge("pattern"), Budgets())
    classifier = run_key(Named(), Judge("pattern+classifier"), Budgets())
    short = run_key(Named(), Judge("pattern"), Budgets(chat=8))
    assert len({patterns, classifier, short}) == 3
    store = SearchStore(tmp_path)
    t = task(0)
    store.add_transcripts(patterns, [t], [transcript(t, "Blue.")])
    store.add_transcripts(classifier, [t], [transcript(t, "Red.")])
    again = SearchStore(tmp_path)
    assert again.get(patterns, {"name": "none"}, t).response == "Blue."
    assert again.get(classifier, {"name": "none"}, t).response == "Red."
    assert again.get(short, {"name": "none"}, t) is None


def test_search_store_does_not_replay_an_empty_round(tmp_path):
    store = SearchStore(tmp_path)
    store.add_round(0, [], ["proposer call failed: ConnectError"])
    store.add_round(1, ["I check first. "])
    again = SearchStore(tmp_path)
    assert again.round(0) is None  # a rerun asks the (now reachable) proposer again
    assert again.round(1)["candidates"] == ["I check first. "]


# -- through the command line -----------------------------------------------------------
def tasks_file(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "tasks.jsonl"
    rows = [
        {"id": f"c{i}", "kind": "benign" if i % 2 else "harmful", "domain": "chat"}
        | {"prompt": f"Tell me something about the number {i}."}
        for i in range(n)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def eval_args(tasks: Path, out: Path, *extra: str, model: str = "tiny") -> list[str]:
    return ["eval", "--model", model, "--tasks", str(tasks), "--out", str(out), *extra]


def parses(line: str) -> bool:
    try:
        json.loads(line)
    except json.JSONDecodeError:
        return False
    return True


def task_ids(path: Path) -> list[str]:
    return [json.loads(line)["task_id"] for line in path.read_text().splitlines()]


def test_kill_9_of_eval_keeps_finished_rows_and_the_rerun_reuses_them(tmp_path):
    n = 24
    tasks = tasks_file(tmp_path, n)
    out = tmp_path / "run"
    rows = out / "responses.jsonl"
    # One task per batch and the full token budget: rows land one by one, well before the end.
    args = eval_args(tasks, out, "--judge", "patterns", "--batch-size", "1", "--no-early-stop")
    proc = subprocess.Popen(
        [sys.executable, "-m", "neutrophil.cli", *args],
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while proc.poll() is None and not (rows.exists() and b"\n" in rows.read_bytes()):
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=0.02)  # a poll interval, not a wait for the event
        assert proc.poll() is None, "eval wrote its first row only as it finished"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    kept = [line for line in rows.read_text().splitlines() if parses(line)]
    assert 0 < len(kept) < n

    again = run_cli(*args)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"resuming: {len(kept)} of {n} tasks" in again.stderr
    lines = rows.read_text().splitlines()
    assert lines[: len(kept)] == kept  # the finished rows, untouched and not recomputed
    assert sorted(task_ids(rows)) == sorted(f"c{i}" for i in range(n))  # each task once
    assert json.loads((out / "metrics.json").read_text())["tasks"] == n


def test_deleted_run_json_then_another_model_is_refused_and_nothing_is_wiped(tmp_path):
    tasks = tasks_file(tmp_path, 3)
    out = tmp_path / "run"
    assert run_cli(*eval_args(tasks, out, "--judge", "patterns")).returncode == 0
    stored = (out / "responses.jsonl").read_bytes()
    (out / "run.json").unlink()
    r = run_cli(*eval_args(tasks, out, "--judge", "patterns", model="tiny:qwen2"))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert "another --out" in r.stderr and "tiny-llama" in r.stderr
    assert (out / "responses.jsonl").read_bytes() == stored


@pytest.mark.parametrize(
    "change, named",
    [(("--judge", "default"), "judge"), (("--no-early-stop",), "budgets")],
)
def test_another_judge_or_budget_is_refused_not_mixed(tmp_path, change, named):
    tasks = tasks_file(tmp_path, 2)
    out = tmp_path / "run"
    assert run_cli(*eval_args(tasks, out, "--judge", "patterns")).returncode == 0
    stored = (out / "responses.jsonl").read_bytes()
    judge = () if change[0] == "--judge" else ("--judge", "patterns")
    r = run_cli(*eval_args(tasks, out, *judge, *change))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert f"{named} " in r.stderr and "another --out" in r.stderr
    assert (out / "responses.jsonl").read_bytes() == stored


def test_rows_judged_under_older_verdict_rules_are_refused_not_mixed(tmp_path):
    """Rows written before verdicts had a version (no fluency check) are another run."""
    tasks = tasks_file(tmp_path, 2)
    out = tmp_path / "run"
    assert run_cli(*eval_args(tasks, out, "--judge", "patterns")).returncode == 0
    path = out / "responses.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert {r["run"]["verdicts"] for r in rows} == {VERDICTS}
    for r in rows:  # as an older neutrophil wrote them
        del r["run"]["verdicts"]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    old = path.read_bytes()
    r = run_cli(*eval_args(tasks, out, "--judge", "patterns"))
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert f"verdicts '1' (this run: '{VERDICTS}')" in r.stderr and "another --out" in r.stderr
    assert path.read_bytes() == old


def test_torn_run_json_is_one_notice_and_corrupt_middle_row_costs_only_itself(tmp_path):
    tasks = tasks_file(tmp_path, 3)
    out = tmp_path / "run"
    args = eval_args(tasks, out, "--judge", "patterns")
    assert run_cli(*args).returncode == 0
    path = out / "responses.jsonl"
    lines = path.read_text().splitlines()
    (out / "run.json").write_text('{"model": "tiny-ll')  # a torn write by an older version
    path.write_text("\n".join([lines[0], "{not json", lines[2]]) + "\n")
    r = run_cli(*args)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    assert r.stderr.count("run.json: unreadable") == 1
    assert r.stderr.count("responses.jsonl:2: corrupt line skipped") == 1
    assert "resuming: 2 of 3 tasks" in r.stderr  # rows 1 and 3 reused, row 2 redone
    after = path.read_text().splitlines()
    assert after[:3] == [lines[0], "{not json", lines[2]]
    assert [json.loads(x)["task_id"] for x in after[3:]] == ["c1"]
    assert json.loads((out / "run.json").read_text())["model"] == "tiny-llama"


def test_outputs_written_by_file_name_appear_whole_or_not_at_all(tmp_path):
    # A plot or a safetensors file is written under a temp name beside its target and
    # renamed once complete: a writer that fails leaves neither a torn file nor its temp.
    from neutrophil.files import atomic_path

    target = tmp_path / "roc.png"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.suffix == ".png"  # writers pick format by it
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_bytes(b"ha")
        raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"whole"
    assert [p.name for p in tmp_path.iterdir()] == ["roc.png"]


@pytest.mark.parametrize("compact", [False, True])
def test_rows_say_what_was_injected_and_older_rows_still_read(tmp_path, compact):
    from dataclasses import replace

    from neutrophil.metrics import is_empty

    path = tmp_path / "store.jsonl"
    defense = {"name": "prefix", "prefix": "I check first. "}
    t = task(0)
    row = replace(transcript(t, "I check first. "), defense=defense, injected="I check first. ")
    RunStore(path, compact=compact).add(KEY, [(t, row)])
    (back,) = [RunStore(path, compact=compact).get(KEY, defense, t)]
    assert back.injected == "I check first. " and is_empty(back)
    # A row written before rows said what was injected: its prefix heads the response.
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:
        line.pop("injected", None)
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    old = RunStore(path, compact=compact).get(KEY, defense, t)
    assert old is not None and old.injected == "I check first. " and is_empty(old)
