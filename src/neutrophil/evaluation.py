"""One evaluation run written to a directory: responses.jsonl, run.json, metrics.json, report.html.

responses.jsonl is the run store (runstore.py): each transcript is appended, fsynced, as
soon as its batch is judged, so a killed run keeps every finished row and a rerun with the
same directory only does the missing tasks. A directory holds one run: rows made under
another key (model, engine, judge, budgets, defense) or for a task that has since changed
are refused with one line, never mixed in and never wiped. run.json, metrics.json and
report.html are derived and written atomically; run.json only adds the wall time spent.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from neutrophil.agent import Agent, Cost
from neutrophil.errors import UserError
from neutrophil.files import atomic_write, writable_dir
from neutrophil.metrics import metrics_dict
from neutrophil.records import Transcript
from neutrophil.report.eval_report import EvalRun, eval_report
from neutrophil.runstore import RunKey, RunStore, defense_key, notice, run_key, task_sha
from neutrophil.tasks.task import Task

RESPONSES = "responses.jsonl"
RUN_INFO = "run.json"


def open_run(out: Path, key: RunKey, defense: dict[str, Any], tasks: Sequence[Task]) -> RunStore:
    """The store of `out`, checked to hold rows of this run only (else one-line refusal)."""
    store = RunStore(out / RESPONSES)
    if store.unkeyed:
        raise UserError(
            f"{store.path}:{store.unkeyed[0]}: row without a run key (written by an older "
            "neutrophil); use another --out"
        )
    dkey = defense_key(defense)
    for (run, d), line in store.groups().items():
        if (run, d) == (key, dkey):
            continue
        diffs = key.differences(run)
        if d != dkey:
            diffs.append(f"defense {d} (this run: {dkey})")
        raise UserError(
            f"{out}: holds a run with {'; '.join(diffs)} ({store.path.name}:{line}); use another "
            "--out for a different model, engine, defense, judge, budgets or verdict rules"
        )
    for t in tasks:
        sha, line = store.stored_task(key, defense, t.id)
        if sha and sha != task_sha(t):
            raise UserError(
                f"{store.path}:{line}: task {t.id!r} was stored with another prompt, tests or "
                "check; use another --out for the changed task set"
            )
    return store


def _previous_seconds(out: Path, key: RunKey, defense: dict[str, Any]) -> float:
    """Wall time already spent on this run, from run.json (0 if it is missing or unreadable:
    the rows, not run.json, say what the directory holds)."""
    path = out / RUN_INFO
    if not path.exists():
        return 0.0
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
        if info.get("run") != key.to_dict() or info.get("defense") != defense:
            return 0.0
        return float(info["cost"]["seconds"])
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as e:
        reason = type(e).__name__ if isinstance(e, RecursionError) else str(e).splitlines()[0]
        notice(f"{path}: unreadable ({reason}); rebuilt from {RESPONSES}")
        return 0.0


def _chunks(tasks: Sequence[Task], size: int) -> Iterator[list[Task]]:
    """Chat/code and web tasks apart (they batch differently), `size` tasks at a time, so
    each chunk is about one generation batch and is persisted as soon as it is judged."""
    for group in ([t for t in tasks if t.domain != "web"], [t for t in tasks if t.domain == "web"]):
        for start in range(0, len(group), size):
            yield group[start : start + size]


def run_persisted(
    agent: Agent,
    tasks: Sequence[Task],
    out: Path | None,
    *,
    label: str | None = None,
    chunk: int | None = None,
    progress: bool = True,
) -> tuple[list[Transcript], Cost]:
    """Transcripts of `tasks` in order and their cost; with `out`, stored rows are reused and
    every new row is persisted as its batch is judged."""
    key = run_key(agent.backend, agent.judge, agent.budgets, agent.early_stop)
    defense = agent.defense.describe()
    by_id: dict[str, Transcript] = {}
    store: RunStore | None = None
    seconds = 0.0
    if out is not None:
        writable_dir(out)
        store = open_run(out, key, defense, tasks)
        seconds = _previous_seconds(out, key, defense)
        for t in tasks:
            stored = store.get(key, defense, t)
            if stored is not None:
                by_id[t.id] = stored
        if by_id and len(by_id) < len(tasks):
            notice(f"resuming: {len(by_id)} of {len(tasks)} tasks already in {store.path}")
    todo = [t for t in tasks if t.id not in by_id]
    bar = tqdm(
        total=len(tasks),
        initial=len(by_id),
        desc=label or "eval",
        unit="task",
        disable=not progress,
    )
    by_task = {t.id: t for t in todo}

    def persist(transcript: Transcript) -> None:
        if store is not None:
            store.add(key, [(by_task[transcript.task_id], transcript)])
        bar.update(1)

    # A continuous-batching backend takes every task at once (its batch stays full) and
    # each row is persisted as it is judged; others go a batch at a time.
    queueing = agent.backend.queues
    parts = [todo] if queueing else _chunks(todo, chunk or agent.backend.capacity)
    try:
        for part in parts:
            result = agent.run(part, on_done=persist)
            seconds += result.cost.seconds
            if out is not None:
                _write_info(out, agent, key, defense, {"seconds": round(seconds, 2)})
            by_id.update((t.task_id, t) for t in result.transcripts)
    finally:
        bar.close()  # before any error is printed: the error stays the last line
    transcripts = [by_id[t.id] for t in tasks]
    cost = Cost(
        sum(t.prompt_tokens for t in transcripts),
        sum(t.generated_tokens for t in transcripts),
        seconds,
    )
    if out is not None:
        _write_info(out, agent, key, defense, cost.to_dict())
    return transcripts, cost


def _write_info(
    out: Path, agent: Agent, key: RunKey, defense: dict[str, Any], cost: dict[str, Any]
) -> None:
    info = {"model": agent.backend.name, "defense": defense, "run": key.to_dict(), "cost": cost}
    atomic_write(out / RUN_INFO, json.dumps(info, indent=2, ensure_ascii=False))


def evaluate(
    agent: Agent,
    tasks: Sequence[Task],
    out: Path | None = None,
    *,
    label: str | None = None,
    chunk: int | None = None,
    progress: bool = True,
) -> EvalRun:
    """Run `tasks` through `agent`; with `out`, persist and resume (see module docstring)."""
    transcripts, cost = run_persisted(
        agent, tasks, out, label=label, chunk=chunk, progress=progress
    )
    defense = agent.defense.describe()
    metrics = metrics_dict(
        transcripts, model=agent.backend.name, defense=defense, cost=cost.to_dict()
    )
    empty = metrics["empty_responses"]
    if any(empty.values()):
        notice(
            f"warning: {empty['harmful']} harmful and {empty['benign']} benign responses are "
            f"empty (judged as they are; read them in {out / RESPONSES if out else 'the run'})"
        )
    run = EvalRun(label or defense.get("name", "defense"), metrics, transcripts)
    if out is not None:
        atomic_write(out / "metrics.json", json.dumps(metrics, indent=2))
        atomic_write(out / "report.html", eval_report([run]))
    return run
