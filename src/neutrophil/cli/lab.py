"""`neutrophil lab`: align -> measure -> agentic fine-tune -> measure -> cure -> measure, one report."""

from __future__ import annotations

import argparse
from dataclasses import replace

HELP = "reproduce safety erosion from benign agentic fine-tuning, and its cure, in one report"


def register(sub) -> None:
    from neutrophil.cli.common import add_model_arg
    from neutrophil.models import DEFAULT_MODEL

    p = sub.add_parser(
        "lab",
        help=HELP,
        description=HELP
        + ". Stages: the model as shipped, after safety-alignment SFT, after agentic LoRA "
        "fine-tuning, then with a PING prefix (and a gated prefix where available), all "
        "measured on the same held-out tasks. Writes DIR/report.html; rerunning skips "
        "finished stages.",
    )
    add_model_arg(
        p,
        model_default=None,
        model_help=f"starting model (default: {DEFAULT_MODEL}; tiny with --quick).",
    )
    p.add_argument(
        "--quick",
        action="store_true",
        help="a minutes-long smoke run of the same code on the tiny random model",
    )
    p.add_argument(
        "--limit",
        type=int,
        metavar="N",
        help="held-out test tasks measured at every stage (default 105: 41 harmful, 64 benign)",
    )
    p.add_argument(
        "--align-steps", type=int, metavar="N", help="optimizer steps of the alignment SFT"
    )
    p.add_argument(
        "--agentic-steps", type=int, metavar="N", help="optimizer steps of the agentic fine-tune"
    )
    p.add_argument(
        "--no-search",
        action="store_true",
        help="cure with a fixed guard prefix instead of a PING search",
    )
    p.add_argument(
        "--seeds",
        type=int,
        metavar="N",
        help="agentic fine-tunes with N seeds (default 1), each measured and compared with the "
        "aligned model: is the erosion reproducible?",
    )
    p.add_argument(
        "--safety-mix",
        type=float,
        metavar="F",
        help="a cure at training time: fine-tune the agentic stage again with a fraction F "
        "of safety examples (refusals from the alignment data) mixed into the trajectories, "
        "and compare it, paired, with plain agentic FT, PING and the gated prefix",
    )
    p.add_argument(
        "--transfer",
        action="store_true",
        help="also measure the base model with its own prefix (--base-prefix-file, else a "
        "search with the same budget) and each model with the other's prefix (stages 6-8)",
    )
    p.add_argument(
        "--base-prefix-file",
        metavar="FILE",
        help="with --transfer: the base model's PING prefix (e.g. best_prefix.txt of "
        "`neutrophil optimize` on the base model) instead of the lab's own small search",
    )
    p.add_argument(
        "--search-rounds", type=int, metavar="N", help="rounds of each PING search (default 1)"
    )
    p.add_argument(
        "--search-candidates",
        type=int,
        metavar="N",
        help="candidates per round of each PING search (default 3; 2 with --quick)",
    )
    p.add_argument(
        "--search-tasks",
        type=int,
        metavar="N",
        help="val-split tasks each PING search selects on (default 8; 6 with --quick)",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from neutrophil.cli.common import model_options, positive_int
    from neutrophil.errors import UserError
    from neutrophil.files import writable_dir
    from neutrophil.workflows import lab

    for flag, value in (
        ("--limit", args.limit),
        ("--align-steps", args.align_steps),
        ("--agentic-steps", args.agentic_steps),
        ("--seeds", args.seeds),
        ("--search-rounds", args.search_rounds),
        ("--search-candidates", args.search_candidates),
        ("--search-tasks", args.search_tasks),
    ):
        positive_int(flag, value)
    if args.no_search:
        searching = ("--transfer", "--search-rounds", "--search-candidates", "--search-tasks")
        given = [f for f in searching if getattr(args, f[2:].replace("-", "_"))]
        if given:
            raise UserError(f"{given[0]} needs the PING search; drop it or --no-search")
    if args.base_prefix_file and not args.transfer:
        raise UserError("--base-prefix-file is for --transfer; add --transfer or drop it")
    config = lab.QUICK if args.quick else lab.LabConfig()
    config = replace(config, model=model_options(args, spec=args.model or config.model.spec))
    if args.limit:
        config = replace(config, eval_limit=args.limit)
    if args.align_steps:
        config = replace(config, align=replace(config.align, max_steps=args.align_steps))
    if args.agentic_steps:
        config = replace(config, agentic=replace(config.agentic, max_steps=args.agentic_steps))
    if args.no_search:
        config = replace(config, search=False)
    if args.safety_mix is not None:
        if not 0 < args.safety_mix < 1:
            raise UserError(f"--safety-mix must be between 0 and 1, got {args.safety_mix:g}")
        config = replace(config, safety_mix=args.safety_mix)
    for name in ("seeds", "search_rounds", "search_candidates", "search_tasks"):
        if getattr(args, name):
            config = replace(config, **{name: getattr(args, name)})
    if args.transfer:
        from neutrophil.defenses.registry import read_text_arg

        base_prefix = read_text_arg(None, args.base_prefix_file, "--base-prefix-file")
        config = replace(config, transfer=True, base_prefix=base_prefix)
    out = writable_dir(args.out)
    result = lab.run(config, out)
    from neutrophil.workflows.lab_report import comparisons_markdown, markdown_table

    print(markdown_table(result.stages))
    print()
    print(comparisons_markdown(result.comparisons))
    print(f"report: {out / 'report.html'}")
    return 0
