"""`neutrophil eval`: diagnose a model on harmful and benign agentic tasks."""

from __future__ import annotations

import argparse
from pathlib import Path

from neutrophil.cli.common import add_model_arg, add_task_args, positive_int

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
    from neutrophil.agent import Agent
    from neutrophil.cli.common import check_finite, check_vector, load_model
    from neutrophil.defenses.registry import build_defense, read_text_arg
    from neutrophil.envs.registry import load_tasks
    from neutrophil.errors import UserError
    from neutrophil.evaluate import evaluate
    from neutrophil.files import writable_dir
    from neutrophil.judges.select import judge_from_name
    from neutrophil.metrics import RATE_LABELS, rate_from_dict
    from neutrophil.models.base import LocalBackend

    positive_int("--limit", args.limit)
    if args.inspect_log:
        from neutrophil.interop.inspect import require_inspect

        require_inspect("--inspect-log")  # before the run, not after it
    positive_int("--batch-size", args.batch_size)
    options = {}
    for kv in args.defense_opt:
        key, eq, value = kv.partition("=")
        if not eq:
            raise UserError(f"--defense-opt {kv}: expected KEY=VALUE")
        options[key] = value
    for key in ("threshold", "strength"):
        if key in options:
            try:
                check_finite(f"--defense-opt {key}", float(options[key]))
            except ValueError:
                raise UserError(f"--defense-opt {key}={options[key]}: expected a number") from None
    writable_dir(args.out)  # before any work: a run must not end unable to save
    prefix = read_text_arg(args.prefix, args.prefix_file, "--prefix-file")
    tasks = load_tasks(
        args.tasks, kind=args.kind, domain=args.domain, split=args.split, limit=args.limit
    )
    judge = judge_from_name(args.judge)
    backend = load_model(args)
    vector = options.get("vector")
    if vector and Path(vector).is_file() and isinstance(backend, LocalBackend):
        from neutrophil.internals.library import resolve_vector

        # Before the defense calibrates it: a vector of another model is refused in one line.
        check_vector(resolve_vector(backend, vector), backend.model, vector)
    defense = build_defense(
        args.defense, backend=backend, prefix=prefix, system=args.system, options=options
    )
    agent = Agent(backend, defense, judge=judge, early_stop=not args.no_early_stop, progress=False)
    out = Path(args.out)
    run_ = evaluate(agent, tasks, out, label=defense.describe().get("name"))
    rates = run_.metrics["rates"]
    print(f"model {backend.name} · defense {defense.describe()} · {len(tasks)} tasks")
    for name, label in RATE_LABELS.items():
        print(f"  {label:32s} {rate_from_dict(rates[name])}")
    print(f"wrote {out / 'metrics.json'}, {out / 'responses.jsonl'}, {out / 'report.html'}")
    if args.inspect_log:
        from neutrophil.interop.inspect import write_eval_run

        task_args = {"tasks": args.tasks, "split": args.split, "limit": args.limit}
        print(f"wrote {write_eval_run(run_, Path(args.inspect_log), task_args)}")
    return 0
