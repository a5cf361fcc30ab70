"""`neutrophil eval`: diagnose a model on harmful and benign agentic tasks."""

from __future__ import annotations

import argparse
from pathlib import Path

from neutrophil.cli.common import add_model_arg, add_task_args

HELP = "evaluate a model (optionally defended): RR, ASR, SR, over-refusal with confidence intervals"


def register(sub) -> None:
    p = sub.add_parser(
        "eval",
        help=HELP,
        description="Evaluate a model, optionally defended: refusal rate (RR), attack success (ASR), "
        "benign success (SR) and over-refusal, each with a 95% Wilson interval. Writes DIR/metrics.json, DIR/responses.jsonl and DIR/report.html; "
        "rerunning with the same --out resumes where it stopped.",
    )
    add_model_arg(p)
    add_task_args(p)
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--prefix",
        metavar="TEXT",
        help="inject TEXT at the start of every assistant turn (implies --defense prefix)",
    )
    g.add_argument("--prefix-file", metavar="F", help="read the prefix from a file")
    p.add_argument("--system", metavar="TEXT", help="add a system-prompt guard")
    p.add_argument(
        "--defense",
        metavar="NAME",
        help="none, prefix, system, suffix; local models also steer, gated-steer, gated-prefix",
    )
    p.add_argument(
        "--defense-opt",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="options of steering defenses (vector=FILE, probe=FILE, threshold=X, strength=X)",
    )
    p.add_argument(
        "--judge",
        default="default",
        metavar="NAME",
        help="refusal judge: default (patterns + classifier), patterns, or llm:SPEC",
    )
    p.add_argument(
        "--no-early-stop",
        action="store_true",
        help="generate the full token budget (for comparisons)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.add_argument(
        "--inspect-log",
        metavar="DIR",
        help="also write the run as an Inspect AI log in DIR (browse with `inspect view`)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from neutrophil.cli.common import model_options
    from neutrophil.defenses.registry import read_text_arg
    from neutrophil.errors import UserError
    from neutrophil.metrics import RATE_LABELS, rate_from_dict
    from neutrophil.workflows import eval as workflow

    if args.inspect_log:
        from neutrophil.interop.inspect import require_inspect

        require_inspect("--inspect-log")  # before the run, not after it
    options = {}
    for kv in args.defense_opt:
        key, eq, value = kv.partition("=")
        if not eq:
            raise UserError(f"--defense-opt {kv}: expected KEY=VALUE")
        options[key] = value
    config = workflow.EvalConfig(
        tasks=args.tasks,
        model=model_options(args),
        kind=args.kind,
        domain=args.domain,
        split=args.split,
        limit=args.limit,
        defense=args.defense,
        prefix=read_text_arg(args.prefix, args.prefix_file, "--prefix-file"),
        system=args.system,
        defense_options=options,
        judge=args.judge,
        early_stop=not args.no_early_stop,
    )
    out = Path(args.out)
    run_ = workflow.run(config, out)
    rates = run_.metrics["rates"]
    m = run_.metrics
    print(f"model {m['model']} · defense {m['defense']} · {m['tasks']} tasks")
    for name, label in RATE_LABELS.items():
        print(f"  {label:32s} {rate_from_dict(rates[name])}")
    print(f"wrote {out / 'metrics.json'}, {out / 'responses.jsonl'}, {out / 'report.html'}")
    if args.inspect_log:
        from neutrophil.interop.inspect import write_eval_run

        task_args = {"tasks": args.tasks, "split": args.split, "limit": args.limit}
        print(f"wrote {write_eval_run(run_, Path(args.inspect_log), task_args)}")
    return 0
