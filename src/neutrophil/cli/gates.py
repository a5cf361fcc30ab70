"""`neutrophil gates`: gated defenses vs the static prefix vs steering, on held-out tasks."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from neutrophil.cli.common import add_model_arg, finite_float

if TYPE_CHECKING:
    from neutrophil.workflows.gates import GatesConfig


def register(sub) -> None:
    p = sub.add_parser(
        "gates",
        help="compare gated steering / gated prefix with the static prefix and steering",
        description=(
            "Run no defense, the static prefix (--prefix-file, e.g. a PING prefix, else the "
            "built-in guard prefix), unconditional refusal steering, gated steering and the "
            "gated prefix on the same held-out tasks (test split), and write RR, SR, "
            "over-refusal and ASR with 95%% CIs, the gate's ROC and RR/SR against the gate "
            "threshold: DIR/study.json, DIR/report.md, DIR/roc.png, DIR/threshold.png "
            "and each defense's rows in DIR/runs/<defense>/responses.jsonl (a rerun "
            "resumes). Needs a local model."
        ),
    )
    add_model_arg(p)
    p.add_argument("--tasks", default="builtin:chat", help="task file or builtin[:DOMAIN]")
    p.add_argument("--split", default="test", choices=["train", "val", "test"])
    p.add_argument("--limit", type=int, metavar="N", help="a balanced sample of N tasks")
    p.add_argument("--prefix-file", help="the static prefix (e.g. DIR/best_prefix.txt of optimize)")
    p.add_argument(
        "--strength", type=finite_float, help="steering strength (calibrated units, default 4)"
    )
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run)


def config_from_args(args: argparse.Namespace) -> GatesConfig:
    """The workflow's config from the parsed flags."""
    from neutrophil.cli.common import model_options
    from neutrophil.workflows.gates import GatesConfig

    return GatesConfig(
        model=model_options(args),
        tasks=args.tasks,
        split=args.split,
        limit=args.limit,
        prefix_file=args.prefix_file,
        strength=args.strength,
        command="neutrophil " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "",
    )


def run(args: argparse.Namespace) -> int:
    from neutrophil.workflows import gates

    out = Path(args.out)
    result = gates.run(config_from_args(args), out, log=lambda m: print(f"gates: {m}", flush=True))
    print(result.report)
    print(f"wrote {out / 'report.md'}, study.json, roc.png, threshold.png")
    return 0
