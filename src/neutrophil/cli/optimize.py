"""`neutrophil optimize`: search a PING prefix, then compare it with baselines on held-out tasks."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from neutrophil.cli.common import add_model_arg, finite_float

HELP = (
    "search a PING safety prefix (refuse harm, keep benign success) and report it on held-out tasks"
)


def register(sub) -> None:
    p = sub.add_parser(
        "optimize",
        help=HELP,
        description=HELP
        + ". Selection uses the train+val splits, the report the test split. Writes "
        "DIR/best_prefix.txt, DIR/history.jsonl, DIR/metrics.json, DIR/report.html; "
        "rerunning with the same --out resumes without regenerating anything.",
    )
    add_model_arg(p)
    p.add_argument(
        "--tasks",
        required=True,
        metavar="PATH|builtin[:DOMAIN]",
        help="task file or built-in suite",
    )
    p.add_argument(
        "--kind", choices=["harmful", "benign"], help="kind of the prompts in a .txt file"
    )
    p.add_argument("--domain", choices=["chat"], help="domain of the prompts in a .txt file")
    p.add_argument(
        "--limit",
        type=int,
        metavar="N",
        help="balanced samples of at most N selection and N test tasks",
    )
    p.add_argument(
        "--out", required=True, metavar="DIR", help="output directory (reused to resume)"
    )
    p.add_argument(
        "--proposer",
        default="offline",
        metavar="offline|SPEC",
        help="offline (seeded phrase bank) or a model spec (e.g. openai:URL#MODEL) that writes candidates",
    )
    p.add_argument("--rounds", type=int, default=5, metavar="R", help="proposal rounds (default 5)")
    p.add_argument(
        "--candidates", type=int, default=5, metavar="M", help="candidates per round (default 5)"
    )
    p.add_argument("--seed", type=int, default=0, metavar="S")
    p.add_argument(
        "--objective",
        choices=["sum", "constrained"],
        default="sum",
        help="sum: SR + RR; constrained: max RR with SR >= undefended SR - epsilon",
    )
    p.add_argument(
        "--epsilon",
        type=finite_float,
        default=0.05,
        metavar="E",
        help="SR slack of the constrained objective",
    )
    p.add_argument(
        "--over-penalty",
        type=finite_float,
        default=0.0,
        metavar="W",
        help="subtract W x over-refusal (borderline benign refused)",
    )
    p.add_argument(
        "--racing-z",
        type=finite_float,
        default=1.64,
        metavar="Z",
        help="racing bound width: a candidate is dropped once the upper Z-bound of its score "
        "minus the leader's, paired task by task, is below 0 (constrained mode: once its "
        "upper bound is below the leader's lower bound); larger drops fewer "
        "(default 1.64, one-sided 95%%)",
    )
    p.add_argument(
        "--no-racing", action="store_true", help="score every candidate on every selection task"
    )
    p.add_argument(
        "--judge",
        default="default",
        metavar="NAME",
        help="refusal judge: default, patterns, or llm:SPEC",
    )
    p.set_defaults(func=run)


def _check(args: argparse.Namespace) -> None:
    from neutrophil.errors import UserError
    from neutrophil.files import writable_dir

    for name in ("rounds", "candidates", "limit", "batch_size"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if not 0 <= args.epsilon <= 1:
        raise UserError(f"--epsilon must be between 0 and 1, got {args.epsilon}")
    if args.over_penalty < 0 or args.racing_z <= 0:
        raise UserError("--over-penalty must be >= 0 and --racing-z > 0")
    writable_dir(args.out)  # before any work: a search must not end unable to save


def _settings(args: argparse.Namespace, n_select: int, n_test: int) -> dict:
    """What must match for a rerun on the same --out to be a resume of the same search."""
    return {
        "model": args.model,
        "tasks": args.tasks,
        "limit": args.limit,
        "proposer": args.proposer,
        "candidates": args.candidates,
        "seed": args.seed,
        "objective": args.objective,
        "epsilon": args.epsilon,
        "over_penalty": args.over_penalty,
        "racing": None if args.no_racing else args.racing_z,
        "judge": args.judge,
        "selection_tasks": n_select,
        "test_tasks": n_test,
    }


def _resume_check(out: Path, settings: dict) -> None:
    from neutrophil.errors import UserError
    from neutrophil.files import atomic_write, parse_json, read_text

    path = out / "settings.json"
    if path.exists():
        old = parse_json(read_text(path, "settings file"), str(path))
        if not isinstance(old, dict):
            raise UserError(f"{path}: expected a JSON object; use a new --out")
        diff = sorted(k for k in settings if old.get(k) != settings[k])
        if diff:
            raise UserError(
                f"{out}: holds a search with other settings ({', '.join(diff)}); use a new --out"
            )
    else:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(settings, indent=1))


def _no_candidate(notes: list[str]) -> None:
    """Say why no prefix was scored: a proposer that failed is not one that proposed nothing."""
    from neutrophil.errors import BackendError, UserError

    failed = [n for n in notes if "proposer call failed" in n]
    if failed:
        raise BackendError(f"the proposer produced no candidates ({failed[0]})")
    why = f": {notes[0]}" if notes else ""
    raise UserError(
        f"no candidate prefix was scored on every selection task (the proposer returned no "
        f"usable candidates{why})"
    )


def run(args: argparse.Namespace) -> int:
    from neutrophil.cli.common import load_model
    from neutrophil.errors import UserError
    from neutrophil.judges.select import judge_from_name
    from neutrophil.models import load_backend
    from neutrophil.search import (
        Evaluator,
        LLMProposer,
        Objective,
        OfflineProposer,
        RacingConfig,
        SearchConfig,
        SearchStore,
        comparison_defenses,
        held_out_metrics,
        run_search,
    )
    from neutrophil.search.report import render
    from neutrophil.tasks import load_tasks
    from neutrophil.tasks.load import balanced_sample

    _check(args)
    tasks = load_tasks(args.tasks, kind=args.kind, domain=args.domain)
    select = [t for t in tasks if t.split in ("train", "val")]
    test = [t for t in tasks if t.split == "test"]
    if not select or not test:
        raise UserError(f"{args.tasks}: needs tasks in train/val (selection) and in test (report)")
    if args.limit:
        select = balanced_sample(select, args.limit) if args.limit < len(select) else select
        test = balanced_sample(test, args.limit) if args.limit < len(test) else test
    out = Path(args.out)
    _resume_check(out, _settings(args, len(select), len(test)))

    judge = judge_from_name(args.judge)
    backend = load_model(args)
    if args.proposer == "offline":
        proposer = OfflineProposer(args.seed)
    else:
        proposer = LLMProposer(
            backend if args.proposer == args.model else load_backend(args.proposer)
        )
    store = SearchStore(out)
    if len(store):
        print(f"resuming: {len(store)} verdicts already in {store.verdict_path}", file=sys.stderr)
    evaluator = Evaluator(backend, store, judge=judge, progress=True)
    config = SearchConfig(
        rounds=args.rounds,
        candidates=args.candidates,
        seed=args.seed,
        objective=Objective(mode=args.objective, epsilon=args.epsilon, w_over=args.over_penalty),
        racing=RacingConfig(enabled=not args.no_racing, z=args.racing_z),
    )
    result = run_search(evaluator, select, proposer, config, progress=True)
    if result.best is None:
        _no_candidate(result.notes)
    best = result.best_prefix
    store.write_text("best_prefix.txt", best + "\n")
    store.write_text(
        "history.jsonl", "".join(json.dumps(h, ensure_ascii=False) + "\n" for h in result.history)
    )

    compared = held_out_metrics(evaluator, test, comparison_defenses(best))
    ping = dict(compared[-1][1])
    prompt_tokens, generated_tokens = store.tokens()
    cost = {
        "verdicts": len(store),
        "prompt_tokens": prompt_tokens,
        "generated_tokens": generated_tokens,
        "seconds_this_run": round(evaluator.cost.seconds, 1),
        "generated_this_run": evaluator.cost.rows,
        "read_from_store_this_run": evaluator.cost.cached,
    }
    ping["split"] = "test"
    ping["cost"] = cost
    ping["baselines"] = {label: m["rates"] for label, m in compared}
    # Every row minus no defense, task by task (Agresti–Min interval, exact McNemar p).
    ping["paired_vs_no_defense"] = {label: m["paired_vs_first"] for label, m in compared[1:]}
    ping["search"] = {
        "objective": result.objective.describe(),
        "rounds": args.rounds,
        "candidates": len(result.history),
        "selection_tasks": len(select),
        "best": {
            k: getattr(result.best, k) for k in ("sr", "rr", "over_refusal", "score", "round")
        },
        "undefended": {
            k: getattr(result.baseline, k) for k in ("sr", "rr", "over_refusal", "score")
        },
    }
    store.write_text("metrics.json", json.dumps(ping, indent=1, ensure_ascii=False))
    command = "neutrophil " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    store.write_text(
        "report.html",
        render(
            model=backend.name,
            best=best,
            objective=result.objective.describe(),
            history=result.history,
            baselines=compared,
            cost=cost,
            command=command,
        ),
    )
    from neutrophil.metrics import rate_from_dict

    print(f"best prefix: {best}")
    print(f"held-out test split ({len(test)} tasks):")
    for label, m in compared:
        r = m["rates"]
        print(
            f"  {label:28s} RR {rate_from_dict(r['refusal_rate'])}  SR {rate_from_dict(r['success_rate'])}"
        )
    print(f"wrote {out / 'best_prefix.txt'}, history.jsonl, metrics.json, report.html")
    return 0
