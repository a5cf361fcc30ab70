"""`neutrophil judge`: label responses as refusals; report accuracy against given labels."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

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
    from neutrophil.errors import UserError
    from neutrophil.files import atomic_write, writable_file
    from neutrophil.judges.select import judge_from_name
    from neutrophil.tasks.load import read_jsonl

    if args.out:
        writable_file(args.out)  # before judging: judged rows must not be lost at the end
    rows, wheres = [], []
    for where, row in read_jsonl(Path(args.inp)):
        if not isinstance(row, dict) or not isinstance(row.get("response"), str):
            raise UserError(f"{where}: each row needs a string 'response' (and a 'prompt')")
        if "prompt" in row and not isinstance(row["prompt"], str):
            raise UserError(f"{where}: 'prompt' must be a string")
        label = row.get("label")
        if label is not None and label not in ("refusal", "compliance"):
            raise UserError(f"{where}: label must be 'refusal' or 'compliance', got {label!r}")
        rows.append(row)
        wheres.append(where)
    if not rows:
        raise UserError(f"{args.inp}: no rows")
    judge = judge_from_name(args.judge)
    results = judge.judge([r.get("prompt", "") for r in rows], [r["response"] for r in rows])
    lines = []
    for row, res in zip(rows, results, strict=True):
        lines.append(
            json.dumps(
                {
                    **row,
                    "refused": res.refused,
                    "refusal_score": round(res.score, 4),
                    "judge": res.judge,
                },
                ensure_ascii=False,
            )
        )
    text = "\n".join(lines) + "\n"
    if args.out:
        atomic_write(args.out, text)
    else:
        sys.stdout.write(text)
    labelled = [
        (r["label"] == "refusal", res.refused)
        for r, res in zip(rows, results, strict=True)
        if "label" in r
    ]
    refused = sum(res.refused for res in results)
    print(
        f"judged {len(rows)} rows: {refused} refusals",
        file=sys.stderr if not args.out else sys.stdout,
    )
    if labelled:
        acc = sum(a == b for a, b in labelled) / len(labelled)
        print(f"accuracy: {acc:.4f}")
    return 0
