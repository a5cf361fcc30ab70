"""`neutrophil eval` as a function: one model, optionally defended, on one task list.

`run(config, out)` writes OUT/responses.jsonl (the run store: a rerun with the same OUT
resumes), run.json, metrics.json and report.html (see `neutrophil.evaluation`) and returns the
`EvalRun`. Everything a user can get wrong (the task file, the defense's options, the
output directory) is checked before the model loads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from neutrophil.errors import UserError
from neutrophil.models.base import Backend
from neutrophil.models.options import ModelOptions

if TYPE_CHECKING:
    from neutrophil.report.eval_report import EvalRun

NUMBER_OPTIONS = ("threshold", "strength")  # defense options that must be finite numbers


@dataclass(frozen=True)
class EvalConfig:
    """The options of one evaluation (the flags of `neutrophil eval`)."""

    tasks: str  # task file or builtin[:DOMAIN] (see `envs.registry.load_tasks`)
    model: ModelOptions = field(default_factory=ModelOptions)
    kind: str | None = None  # kind of the prompts in a .txt task file
    domain: str | None = None  # domain of the prompts in a .txt task file
    split: str | None = None
    limit: int | None = None  # a balanced sample of at most N tasks
    defense: str | None = None  # none, prefix, system, suffix, steer, gated-steer, gated-prefix
    prefix: str | None = None  # injected at the start of every assistant turn
    system: str | None = None  # a system-prompt guard
    defense_options: dict[str, str] = field(default_factory=dict)  # vector=FILE, strength=X
    judge: str = "default"  # default, patterns, or llm:SPEC
    early_stop: bool = True  # stop each row once its verdict is fixed


def check(config: EvalConfig) -> None:
    """Refuse bad options in one line before anything loads."""
    if config.limit is not None and config.limit < 1:
        raise UserError(f"--limit must be at least 1, got {config.limit}")
    for key in NUMBER_OPTIONS:
        if key not in config.defense_options:
            continue
        text = config.defense_options[key]
        try:
            value = float(text)
        except ValueError:
            raise UserError(f"--defense-opt {key}={text}: expected a number") from None
        if not math.isfinite(value):
            raise UserError(f"--defense-opt {key} must be a finite number, got {text}")


def run(
    config: EvalConfig,
    out: Path | str | None,
    *,
    backend: Backend | None = None,
    progress: bool = True,
) -> EvalRun:
    """Evaluate and write OUT's files (see module docstring). `backend`: an already loaded
    model to use instead of loading `config.model`; `out=None` keeps the run in memory."""
    from neutrophil.agent import Agent
    from neutrophil.defenses.registry import LOCAL_DEFENSES, build_defense
    from neutrophil.envs.registry import load_tasks
    from neutrophil.evaluation import evaluate
    from neutrophil.files import writable_dir
    from neutrophil.judges.select import judge_from_name

    check(config)
    out = Path(out) if out is not None else None
    if out is not None:
        writable_dir(out)  # before any work: a run must not end unable to save
    tasks = load_tasks(
        config.tasks,
        kind=config.kind,
        domain=config.domain,
        split=config.split,
        limit=config.limit,
    )
    judge = judge_from_name(config.judge, device=config.model.device)
    backend = backend if backend is not None else config.model.load()
    vector = config.defense_options.get("vector")
    # Before the defense calibrates it: a vector of another model is refused in one line.
    # Steering needs hidden states, so the model's local twin is loaded here either way.
    steers = config.defense in LOCAL_DEFENSES and vector and Path(vector).is_file()
    local = backend.local() if steers else None
    if local is not None:
        from neutrophil.internals.library import resolve_vector

        resolve_vector(local, vector).check_fits(local.model, vector)
    defense = build_defense(
        config.defense,
        backend=backend,
        prefix=config.prefix,
        system=config.system,
        options=dict(config.defense_options),
    )
    agent = Agent(backend, defense, judge=judge, early_stop=config.early_stop, progress=False)
    return evaluate(agent, tasks, out, label=defense.describe().get("name"), progress=progress)
