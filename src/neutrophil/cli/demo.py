"""`neutrophil demo`: the main job on the embedded model, end to end, in minutes."""

from __future__ import annotations

import argparse
import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from neutrophil.cli.common import add_model_arg

# Shorter web episodes than `neutrophil eval` (8 steps) keep the demo within ~10 minutes on
# two CPU cores; the demo prints the budgets it used.
DEMO_BUDGETS_WEB_STEPS = 5

HELP = (
    "diagnose the embedded model with and without a guard, search a PING prefix, write one report"
)


def register(sub) -> None:
    p = sub.add_parser(
        "demo",
        help=HELP,
        description=HELP
        + ". Every stage writes its own directory under --out, so a rerun resumes; "
        "the combined report is OUT/report.html.",
    )
    add_model_arg(p)
    p.add_argument(
        "--limit",
        type=int,
        default=54,
        metavar="N",
        help="held-out test tasks per evaluation (balanced over domains; default 54)",
    )
    p.add_argument(
        "--search-tasks",
        type=int,
        default=12,
        metavar="N",
        help="train/val tasks the PING search scores candidates on (default 12)",
    )
    p.add_argument("--rounds", type=int, default=1, help="PING search rounds (default 1)")
    p.add_argument(
        "--candidates", type=int, default=3, help="PING candidates per round (default 3)"
    )
    p.add_argument(
        "--no-search", action="store_true", help="skip the PING search (only the two evaluations)"
    )
    p.add_argument(
        "--out", default="runs/demo", metavar="DIR", help="output directory (default runs/demo)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from neutrophil.agent import Agent, Budgets
    from neutrophil.cli.common import load_model, positive_int
    from neutrophil.defenses.base import NO_DEFENSE, PromptDefense
    from neutrophil.defenses.texts import GUARD_PREFIX
    from neutrophil.evaluate import evaluate
    from neutrophil.files import atomic_write, writable_dir
    from neutrophil.judges import default_judge
    from neutrophil.metrics import RATE_SHORT_LABELS
    from neutrophil.models.base import QueueingBackend
    from neutrophil.paired import compare
    from neutrophil.report.eval_report import eval_report, headline_rows
    from neutrophil.tasks import load_tasks

    for flag in ("limit", "search_tasks", "rounds", "candidates"):
        positive_int(f"--{flag.replace('_', '-')}", getattr(args, flag))
    start = time.perf_counter()
    out = writable_dir(args.out)
    backend = load_model(args)
    judge = default_judge()
    budgets = Budgets(web_steps=DEMO_BUDGETS_WEB_STEPS)
    test = load_tasks("builtin", split="test", limit=args.limit)
    print(f"[demo] model {backend.name}; {len(test)} held-out test tasks; budgets {budgets}")

    stages = [
        ("no defense", "none", NO_DEFENSE),
        ("guard prefix (hand-written)", "guard", PromptDefense(name="prefix", prefix=GUARD_PREFIX)),
    ]
    if not args.no_search:
        best = _search_prefix(backend, judge, budgets, args, out / "ping-search")
        stages.append(("PING prefix (searched)", "ping", PromptDefense(name="prefix", prefix=best)))

    def evaluate_stage(stage: tuple[str, str, Any]) -> Any:
        label, slug, defense = stage
        agent = Agent(backend, defense, judge=judge, budgets=budgets)
        return evaluate(agent, test, out / slug, label=label)

    print(f"[demo] evaluating: {', '.join(label for label, _, _ in stages)}")
    if isinstance(backend, QueueingBackend):
        # One running batch for all defenses: their rows fill each other's gaps, and the
        # pages and prompts they share are decoded once.
        with ThreadPoolExecutor(len(stages)) as pool:
            runs = list(pool.map(evaluate_stage, stages))
    else:
        runs = [evaluate_stage(stage) for stage in stages]

    atomic_write(out / "report.html", eval_report(runs, title=f"neutrophil demo — {backend.name}"))
    print()
    names = list(RATE_SHORT_LABELS.values())  # the columns of headline_rows, in order
    for row in headline_rows(runs):
        print(f"{row[0]}")
        for name, cell in zip(names, row[1:], strict=True):
            print(f"    {name:18s} {cell}")
    paired = {run.label: compare(run.transcripts, runs[0].transcripts) for run in runs[1:]}
    (out / "paired.json").write_text(
        json.dumps(
            {label: {k: d.to_dict() for k, d in diffs.items()} for label, diffs in paired.items()},
            indent=1,
        ),
        encoding="utf-8",
    )
    print(f"\npaired against {runs[0].label}, same tasks (* p < 0.05, exact McNemar):")
    for label, diffs in paired.items():
        print(f"{label}")
        print(f"    RR            {diffs['refusal_rate']}")
        print(f"    SR            {diffs['success_rate']}")
    if not args.no_search:
        print(f"PING prefix: {best!r}")
    print(f"\nreport: {out / 'report.html'}  ({time.perf_counter() - start:.0f} s)")
    return 0


def _search_prefix(backend, judge, budgets, args, out: Path) -> str:
    """A small-budget PING search with the offline proposer on train+val tasks (resumable)."""
    from neutrophil.search import Evaluator, OfflineProposer, SearchConfig, SearchStore, run_search
    from neutrophil.tasks import load_tasks
    from neutrophil.tasks.load import balanced_sample

    pool = [t for t in load_tasks("builtin") if t.split in ("train", "val")]
    select = balanced_sample(pool, args.search_tasks)
    print(
        f"[demo] PING search: {args.rounds} rounds x {args.candidates} candidates "
        f"on {len(select)} train/val tasks (offline proposer)"
    )
    store = SearchStore(out)
    evaluator = Evaluator(backend, store, judge=judge, budgets=budgets, progress=True)
    config = SearchConfig(rounds=args.rounds, candidates=args.candidates, seed=0)
    result = run_search(evaluator, select, OfflineProposer(0), config, progress=True)
    if result.best is None:
        from neutrophil.errors import UserError

        raise UserError("the PING search scored no candidate on every task; rerun to resume")
    store.write_text("best_prefix.txt", result.best_prefix + "\n")
    return result.best_prefix
