"""`neutrophil demo`: the main job on the embedded model, end to end, in minutes."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from neutrophil.cli.common import add_model_arg

if TYPE_CHECKING:
    from neutrophil.workflows.demo import DemoConfig

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


def config_from_args(args: argparse.Namespace) -> DemoConfig:
    """The workflow's config from the parsed flags."""
    from neutrophil.cli.common import model_options
    from neutrophil.workflows.demo import DemoConfig

    return DemoConfig(
        model=model_options(args),
        limit=args.limit,
        search_tasks=args.search_tasks,
        rounds=args.rounds,
        candidates=args.candidates,
        search=not args.no_search,
    )


def run(args: argparse.Namespace) -> int:
    from neutrophil.metrics import RATE_SHORT_LABELS
    from neutrophil.report.eval_report import headline_rows
    from neutrophil.workflows import demo

    result = demo.run(config_from_args(args), Path(args.out), log=lambda m: print(f"[demo] {m}"))
    print()
    names = list(RATE_SHORT_LABELS.values())  # the columns of headline_rows, in order
    for row in headline_rows(result.runs):
        print(f"{row[0]}")
        for name, cell in zip(names, row[1:], strict=True):
            print(f"    {name:18s} {cell}")
    print(f"\npaired against {result.runs[0].label}, same tasks (* p < 0.05, exact McNemar):")
    for label, diffs in result.paired.items():
        print(f"{label}")
        print(f"    RR            {diffs['refusal_rate']}")
        print(f"    SR            {diffs['success_rate']}")
    if result.best_prefix is not None:
        print(f"PING prefix: {result.best_prefix!r}")
    print(f"\nreport: {result.report}  ({result.seconds:.0f} s)")
    return 0
