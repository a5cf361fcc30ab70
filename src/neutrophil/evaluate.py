"""One evaluation run written to a directory: responses.jsonl, metrics.json, report.html.

Transcripts are appended chunk by chunk (flushed and fsynced), so an interrupted run keeps
what it computed and a rerun with the same directory only does the missing tasks.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from neutrophil.agent import Agent, Cost
from neutrophil.errors import UserError
from neutrophil.metrics import metrics_dict
from neutrophil.records import Transcript
from neutrophil.report.eval_report import EvalRun, eval_report
from neutrophil.tasks.task import Task

RESPONSES = "responses.jsonl"
RUN_INFO = "run.json"


def _load_previous(out: Path, info: dict[str, Any]) -> tuple[list[Transcript], Cost]:
    """Transcripts already in `out` from the same model and defense (resume)."""
    info_path = out / RUN_INFO
    if not info_path.exists():
        return [], Cost()
    previous = json.loads(info_path.read_text())
    if previous.get("model") != info["model"] or previous.get("defense") != info["defense"]:
        raise UserError(
            f"{out}: holds a run of model {previous.get('model')!r} with defense "
            f"{previous.get('defense')}; use another --out for a different model or defense"
        )
    done = []
    path = out / RESPONSES
    if path.exists():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            try:
                done.append(Transcript.from_dict(json.loads(line)))
            except (json.JSONDecodeError, TypeError):
                # A line cut by a kill mid-write: keep everything before it.
                print(f"{path}:{n}: incomplete line dropped (interrupted run)", file=sys.stderr)
                break
    c = previous.get("cost", {})
    return done, Cost(
        c.get("prompt_tokens", 0), c.get("generated_tokens", 0), c.get("seconds", 0.0)
    )


def _append(path: Path, rows: Sequence[Transcript]) -> None:
    with path.open("a", encoding="utf-8") as f:
        for t in rows:
            f.write(t.to_json() + "\n")
        f.flush()
        os.fsync(f.fileno())


def evaluate(
    agent: Agent,
    tasks: Sequence[Task],
    out: Path | None = None,
    *,
    label: str | None = None,
    chunk: int = 64,
    progress: bool = True,
) -> EvalRun:
    """Run `tasks` through `agent`; with `out`, persist and resume (see module docstring)."""
    info = {"model": agent.backend.name, "defense": agent.defense.describe()}
    done: list[Transcript] = []
    cost = Cost()
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        done, cost = _load_previous(out, info)
        # Rewrite the file with only the complete rows, so a torn last line is gone.
        (out / RESPONSES).write_text("".join(t.to_json() + "\n" for t in done), encoding="utf-8")
    by_id = {t.task_id: t for t in done}
    todo = [t for t in tasks if t.id not in by_id]
    bar = tqdm(
        total=len(tasks),
        initial=len(tasks) - len(todo),
        desc=label or "eval",
        unit="task",
        disable=not progress,
    )
    for start in range(0, len(todo), chunk):
        part = todo[start : start + chunk]
        result = agent.run(part)
        cost.add(result.cost)
        for t in result.transcripts:
            by_id[t.task_id] = t
        if out is not None:
            _append(out / RESPONSES, result.transcripts)
            (out / RUN_INFO).write_text(json.dumps({**info, "cost": cost.to_dict()}, indent=2))
        bar.update(len(part))
    bar.close()
    transcripts = [by_id[t.id] for t in tasks]
    metrics = metrics_dict(
        transcripts, model=info["model"], defense=info["defense"], cost=cost.to_dict()
    )
    run = EvalRun(label or agent.defense.describe().get("name", "defense"), metrics, transcripts)
    if out is not None:
        (out / RUN_INFO).write_text(json.dumps({**info, "cost": cost.to_dict()}, indent=2))
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
        (out / "report.html").write_text(eval_report([run]), encoding="utf-8")
    return run
