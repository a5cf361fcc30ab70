"""`neutrophil judge`: label responses as refusals; report accuracy against given labels."""

from __future__ import annotations

import argparse
import sys

HELP = "judge whether responses are refusals (rows with prompt and response)"


def register(sub) -> None:
    p = sub.add_parser(
        "judge",
        help=HELP,
        description=HELP
        + ". Writes each row with `refused` (and `refusal_score`, `judge`) added. If rows carry "
        "label = refusal|compliance, the last line printed is `accuracy: X`.",
    )
    p.add_argument(
        "--in",
        dest="inp",
        required=True,
        metavar="FILE.jsonl",
        help="rows with prompt and response",
    )
    p.add_argument(
        "--out", metavar="FILE.jsonl", help="where to write judged rows (default: stdout)"
    )
    p.add_argument(
        "--judge",
        default="default",
        metavar="NAME",
        help="default (patterns + classifier), patterns, or llm:SPEC",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from neutrophil.workflows import judge

    result = judge.run(judge.JudgeConfig(rows=args.inp, judge=args.judge), args.out)
    if not args.out:
        sys.stdout.write(result.jsonl())
    print(
        f"judged {len(result.rows)} rows: {result.refusals} refusals",
        file=sys.stderr if not args.out else sys.stdout,
    )
    if result.accuracy is not None:
        print(f"accuracy: {result.accuracy:.4f}")
    return 0
