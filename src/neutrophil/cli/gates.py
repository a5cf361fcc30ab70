"""`neutrophil gates`: gated defenses vs the static prefix vs steering, on held-out tasks."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from neutrophil.cli.common import add_model_arg, finite_float


def register(sub) -> None:
    p = sub.add_parser(
        "gates",
        help="compare gated steering / gated prefix with the static prefix and steering",
        description=(
            "Run no defense, the static prefix (--prefix-file, e.g. a PING prefix, else the "
            "built-in guard prefix), unconditional refusal steering, gated steering and the "
            "gated prefix on the same held-out tasks (test split), and write RR, SR, "
            "over-refusal and ASR with 95%% CIs, the gate's ROC and RR/SR against the gate "
            "threshold: DIR/study.json, DIR/report.md, DIR/roc.png, DIR/threshold.png, "
            "DIR/<defense>.responses.jsonl. Needs a local model."
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


def run(args: argparse.Namespace) -> int:
    from neutrophil.cli.common import load_model, positive_int
    from neutrophil.defenses.registry import read_text_arg
    from neutrophil.defenses.texts import GATED_PREFIX
    from neutrophil.errors import UserError
    from neutrophil.files import writable_dir
    from neutrophil.models.base import require_local
    from neutrophil.tasks import load_tasks
    from neutrophil.workflows.defense_study import markdown_report, plots, run_defense_study

    positive_int("--limit", args.limit)
    writable_dir(args.out)
    tasks = load_tasks(args.tasks, split=args.split, limit=args.limit)
    tasks = [t for t in tasks if t.domain != "web"]
    if {t.kind for t in tasks} != {"harmful", "benign"}:
        raise UserError(f"{args.tasks}: the {args.split} split needs harmful and benign tasks")
    # Without --prefix-file: the refusal-leaning prefix that `--defense gated-prefix` injects,
    # so the static and gated arms differ only in the gate.
    prefix = read_text_arg(None, args.prefix_file, "--prefix-file") or GATED_PREFIX
    label = "static prefix (PING)" if args.prefix_file else "static prefix (guard)"
    backend = load_model(args)
    require_local(backend, "gated defenses")
    study, arms = run_defense_study(
        backend,
        tasks,
        prefix=prefix,
        prefix_label=label,
        strength=args.strength,
        progress=lambda m: print(f"gates: {m}", flush=True),
    )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "neutrophil " + shlex.join(sys.argv[1:]) if sys.argv[1:] else ""
    study["command"] = command
    (out / "study.json").write_text(json.dumps(study, indent=1), encoding="utf-8")
    for name, arm in arms.items():
        rows = "".join(t.to_json() + "\n" for t in arm.transcripts)
        (out / f"{name}.responses.jsonl").write_text(rows, encoding="utf-8")
    plots(study, out)
    report = markdown_report(study, command)
    (out / "report.md").write_text(report, encoding="utf-8")
    print(report)
    print(f"wrote {out / 'report.md'}, study.json, roc.png, threshold.png")
    return 0
