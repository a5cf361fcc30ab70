"""`neutrophil gates` as a function: the defense study (`defense_study.py`) on held-out tasks,
written out.

`run(config, out)` writes OUT/study.json, OUT/report.md, OUT/roc.png, OUT/threshold.png,
and each defense's rows as a run directory, OUT/runs/<defense>/responses.jsonl, persisted
as they are judged: a rerun with the same OUT resumes instead of generating again. Needs a local model (the gate reads hidden states).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neutrophil.errors import UserError
from neutrophil.files import atomic_write
from neutrophil.models.options import ModelOptions
from neutrophil.workflows.defense_study import Arm


@dataclass(frozen=True)
class GatesConfig:
    """The options of one study (the flags of `neutrophil gates`)."""

    model: ModelOptions = field(default_factory=ModelOptions)
    tasks: str = "builtin:chat"  # task file or builtin[:DOMAIN]; web tasks are left out
    split: str = "test"
    limit: int | None = None  # a balanced sample of N tasks
    # The static prefix (e.g. optimize's best_prefix.txt); None: the gated prefix's own text.
    prefix_file: str | None = None
    strength: float | None = None  # steering strength in calibrated units (None: the default)
    command: str = ""  # the command line the report shows (empty from Python)


@dataclass(frozen=True)
class GatesResult:
    """The study as written to OUT/study.json, its markdown report, and each defense's run."""

    study: dict[str, Any]
    report: str
    arms: dict[str, Arm]


def _stderr(msg: str) -> None:
    print(f"gates: {msg}", file=sys.stderr, flush=True)


def run(config: GatesConfig, out: Path, *, log: Callable[[str], None] = _stderr) -> GatesResult:
    """Run the five defenses on the tasks and write OUT's files (see module docstring);
    `log` gets a line per step."""
    from neutrophil.defenses.registry import read_text_arg
    from neutrophil.defenses.texts import GATED_PREFIX
    from neutrophil.envs.registry import load_tasks
    from neutrophil.files import writable_dir
    from neutrophil.models.base import require_local
    from neutrophil.workflows.defense_study import markdown_report, plots, run_defense_study

    out = Path(out)
    if config.limit is not None and config.limit < 1:
        raise UserError(f"--limit must be at least 1, got {config.limit}")
    writable_dir(out)
    tasks = load_tasks(config.tasks, split=config.split, limit=config.limit)
    tasks = [t for t in tasks if t.domain != "web"]
    if {t.kind for t in tasks} != {"harmful", "benign"}:
        raise UserError(f"{config.tasks}: the {config.split} split needs harmful and benign tasks")
    # Without a prefix file: the refusal-leaning prefix that `--defense gated-prefix` injects,
    # so the static and gated arms differ only in the gate.
    prefix = read_text_arg(None, config.prefix_file, "--prefix-file") or GATED_PREFIX
    label = "static prefix (PING)" if config.prefix_file else "static prefix (guard)"
    backend = config.model.load()
    require_local(backend, "gated defenses")
    study, arms = run_defense_study(
        backend,
        tasks,
        prefix=prefix,
        prefix_label=label,
        strength=config.strength,
        progress=log,
        store=out / "runs",
    )
    out.mkdir(parents=True, exist_ok=True)
    study["command"] = config.command
    atomic_write(out / "study.json", json.dumps(study, indent=1))
    plots(study, out)
    report = markdown_report(study, config.command)
    atomic_write(out / "report.md", report)
    return GatesResult(study=study, report=report, arms=arms)
