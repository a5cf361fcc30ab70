"""`neutrophil study steering`: a sweep of steering settings on held-out tasks, paired
against no steering."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from neutrophil.cli.common import add_model_arg


def register(sub) -> None:
    p = sub.add_parser("study", help="studies of what interventions do to an agent")
    kinds = p.add_subparsers(dest="study", required=True, metavar="STUDY")
    s = kinds.add_parser(
        "steering",
        help="concepts x modes x strengths on held-out tasks, paired against no steering",
        description=(
            "Answer the same held-out tasks with no steering, with each --setting (a concept "
            "in one mode: joy=2 adds, refusal=ablate removes the concept's component, "
            "refusal=clamp:2 pins it) and with each --reference-model unsteered. Writes "
            "DIR/study.json, DIR/report.md and DIR/rates.png: per arm RR, fluent SR, "
            "over-refusal, ASR, the fluency rate and the mean answer length, each arm paired "
            "task by task against no steering (McNemar p); each arm's rows in "
            "DIR/runs/<arm>/responses.jsonl (a rerun resumes). Runs on transformers: ablate "
            "and clamp need hooks."
        ),
    )
    add_model_arg(s, engine=False)
    s.add_argument(
        "--setting",
        action="append",
        metavar="CONCEPT=SETTING",
        help="one arm, e.g. joy=2, joy=-2, refusal=ablate, refusal=clamp:2; repeat for more "
        "(default: joy=±4, calm, anger, fear at 4, the strongest fluent setting; refusal "
        "ablated and clamped at 2 and 4)",
    )
    s.add_argument("--tasks", default="builtin:chat", help="task file or builtin[:DOMAIN]")
    s.add_argument(
        "--split",
        default="val,test",
        help="comma-separated splits (default val,test; concept vectors never see tasks)",
    )
    s.add_argument("--limit", type=int, metavar="N", help="a balanced sample of N tasks")
    s.add_argument(
        "--reference-model",
        action="append",
        default=[],
        metavar="SPEC",
        help="another model answered unsteered, paired too (e.g. the lab's base model)",
    )
    s.add_argument("--out", required=True, help="output directory")
    s.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from neutrophil.cli.common import model_options, parse_splits
    from neutrophil.workflows import steering_study

    splits = parse_splits(args.split)
    settings = tuple(
        steering_study.parse_setting(s) for s in (args.setting or steering_study.DEFAULT_SETTINGS)
    )
    config = steering_study.StudyConfig(
        model=model_options(args, engine="hf"),
        settings=settings,
        tasks=args.tasks,
        splits=splits,
        limit=args.limit,
        references=tuple(args.reference_model),
        command="neutrophil " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "",
    )
    out = Path(args.out)
    result = steering_study.run(config, out, log=lambda m: print(f"study: {m}", flush=True))
    print(result.report)
    print(f"wrote {out / 'report.md'}, study.json, rates.png")
    return 0
