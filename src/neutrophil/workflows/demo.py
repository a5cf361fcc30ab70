"""`neutrophil demo` as a function: the main job on one model, end to end, in minutes.

No defense, the hand-written guard prefix and (unless `search=False`) a PING prefix found by
a small offline search, each evaluated on the same held-out test tasks. `run(config, out)`
writes a directory per stage under OUT (none/, guard/, ping/, ping-search/), so a rerun
resumes, then OUT/report.html and OUT/paired.json (each defense minus no defense, task by
task).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neutrophil.agent import Budgets
from neutrophil.errors import UserError
from neutrophil.models.options import ModelOptions

if TYPE_CHECKING:
    from neutrophil.paired import PairedDiff
    from neutrophil.report.eval_report import EvalRun

# Shorter web episodes than `neutrophil eval` (8 steps) keep the demo within ~10 minutes on
# two CPU cores; the demo prints the budgets it used.
DEMO_WEB_STEPS = 5


@dataclass(frozen=True)
class DemoConfig:
    """The options of one demo (the flags of `neutrophil demo`)."""

    model: ModelOptions = field(default_factory=ModelOptions)
    limit: int = 54  # held-out test tasks per evaluation, balanced over domains
    search_tasks: int = 12  # train/val tasks the PING search scores candidates on
    rounds: int = 1  # PING search rounds
    candidates: int = 3  # PING candidates per round
    search: bool = True  # False: only no defense and the guard prefix
    budgets: Budgets = field(default_factory=lambda: Budgets(web_steps=DEMO_WEB_STEPS))


@dataclass(frozen=True)
class DemoResult:
    """The evaluations (no defense first), each later one paired against the first."""

    model: str  # the backend's name
    runs: list[EvalRun]  # in stage order
    # label -> rate name -> the difference from runs[0], task by task
    paired: dict[str, dict[str, PairedDiff]]
    best_prefix: str | None  # the searched PING prefix; None without the search
    report: Path  # OUT/report.html
    seconds: float  # wall time of this call


def _stderr(msg: str) -> None:
    print(f"demo: {msg}", file=sys.stderr, flush=True)


def check(config: DemoConfig) -> None:
    """Refuse bad settings before anything loads: one line each."""
    for flag in ("limit", "search_tasks", "rounds", "candidates"):
        value = getattr(config, flag)
        if value < 1:
            raise UserError(f"--{flag.replace('_', '-')} must be at least 1, got {value}")


def run(
    config: DemoConfig,
    out: Path,
    *,
    progress: bool = True,
    log: Callable[[str], None] = _stderr,
) -> DemoResult:
    """Evaluate the stages and write OUT's files (see module docstring). `progress` shows
    progress bars; `log` gets a line per step."""
    from neutrophil.agent import Agent
    from neutrophil.defenses.base import NO_DEFENSE, PromptDefense
    from neutrophil.defenses.texts import GUARD_PREFIX
    from neutrophil.envs.registry import load_tasks
    from neutrophil.evaluation import evaluate
    from neutrophil.files import atomic_write, writable_dir
    from neutrophil.judges import default_judge
    from neutrophil.paired import compare
    from neutrophil.report.eval_report import eval_report

    check(config)
    start = time.perf_counter()
    out = writable_dir(out)
    backend = config.model.load()
    judge = default_judge()
    budgets = config.budgets
    test = load_tasks("builtin", split="test", limit=config.limit)
    log(f"model {backend.name}; {len(test)} held-out test tasks; budgets {budgets}")

    stages = [
        ("no defense", "none", NO_DEFENSE),
        ("guard prefix (hand-written)", "guard", PromptDefense(name="prefix", prefix=GUARD_PREFIX)),
    ]
    best = None
    if config.search:
        best = _search_prefix(backend, judge, config, out / "ping-search", progress, log)
        stages.append(("PING prefix (searched)", "ping", PromptDefense(name="prefix", prefix=best)))

    def evaluate_stage(stage: tuple[str, str, Any]) -> EvalRun:
        label, slug, defense = stage
        agent = Agent(backend, defense, judge=judge, budgets=budgets)
        return evaluate(agent, test, out / slug, label=label, progress=progress)

    log(f"evaluating: {', '.join(label for label, _, _ in stages)}")
    if backend.queues:
        # One running batch for all defenses: their rows fill each other's gaps, and the
        # pages and prompts they share are decoded once.
        with ThreadPoolExecutor(len(stages)) as pool:
            runs = list(pool.map(evaluate_stage, stages))
    else:
        runs = [evaluate_stage(stage) for stage in stages]

    report = out / "report.html"
    atomic_write(report, eval_report(runs, title=f"neutrophil demo — {backend.name}"))
    paired = {run.label: compare(run.transcripts, runs[0].transcripts) for run in runs[1:]}
    atomic_write(
        out / "paired.json",
        json.dumps(
            {label: {k: d.to_dict() for k, d in diffs.items()} for label, diffs in paired.items()},
            indent=1,
        ),
    )
    return DemoResult(
        model=backend.name,
        runs=runs,
        paired=paired,
        best_prefix=best,
        report=report,
        seconds=time.perf_counter() - start,
    )


def _search_prefix(
    backend, judge, config: DemoConfig, out: Path, progress: bool, log: Callable[[str], None]
) -> str:
    """A small-budget PING search with the offline proposer on train+val tasks (resumable)."""
    from neutrophil.envs.registry import load_tasks
    from neutrophil.search import Evaluator, OfflineProposer, SearchConfig, SearchStore, run_search
    from neutrophil.tasks.load import balanced_sample

    pool = [t for t in load_tasks("builtin") if t.split in ("train", "val")]
    select = balanced_sample(pool, config.search_tasks)
    log(
        f"PING search: {config.rounds} rounds x {config.candidates} candidates "
        f"on {len(select)} train/val tasks (offline proposer)"
    )
    store = SearchStore(out)
    evaluator = Evaluator(backend, store, judge=judge, budgets=config.budgets, progress=progress)
    search = SearchConfig(rounds=config.rounds, candidates=config.candidates, seed=0)
    result = run_search(evaluator, select, OfflineProposer(0), search, progress=progress)
    if result.best is None:
        raise UserError("the PING search scored no candidate on every task; rerun to resume")
    store.write_text("best_prefix.txt", result.best_prefix + "\n")
    return result.best_prefix
