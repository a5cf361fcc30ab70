"""`neutrophil probe`: per-layer harm probes, a token-position scan, prefix vs suffix."""

from __future__ import annotations

import argparse
from pathlib import Path

from neutrophil.cli.common import add_model_arg, at_least_1


def register(sub) -> None:
    p = sub.add_parser(
        "probe",
        help="probe where the model represents harm (per layer, per token, prefix vs suffix)",
        description=(
            "Fit a logistic probe harmful-vs-benign per layer on the train split (activation at "
            "the last prompt token), score it on the test split, scan one layer's probe through "
            "the prompt, assistant header and prefix, and compare the final-token logit with no "
            "defense, the prefix in the assistant turn, and the same text as a user suffix. "
            "Writes DIR/probe.json and DIR/report.html."
        ),
    )
    add_model_arg(p, engine=False)
    p.add_argument(
        "--tasks",
        default="builtin:chat",
        help="task file or builtin[:DOMAIN] (default builtin:chat)",
    )
    p.add_argument("--prefix", help="prefix text to compare (default: a generic safety prefix)")
    p.add_argument("--layers", help="layers to probe, e.g. 8-20 or 2,4,6 (default: all)")
    p.add_argument("--scan-layer", type=int, help="layer for the scan (default: best AUROC)")
    p.add_argument("--limit", type=at_least_1, help="at most N tasks per split")
    p.add_argument("--out", required=True, help="output directory")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from neutrophil.cli.common import model_options
    from neutrophil.workflows import probe

    config = probe.ProbeConfig(
        model=model_options(args, engine="hf"),
        tasks=args.tasks,
        prefix=args.prefix,
        layers=args.layers,
        scan_layer=args.scan_layer,
        limit=args.limit,
    )
    out = Path(args.out)
    result = probe.run(config, out, progress=lambda m: print(f"probe: {m}", flush=True))
    best = next(r for r in result["layers"] if r["layer"] == result["best_layer"])
    print(f"best layer {best['layer']}: accuracy {best['accuracy']:.3f}, AUROC {best['auroc']:.3f}")
    for kind, d in result["placement"].items():
        cells = ", ".join(f"{c} {v['mean_logit']:+.2f}" for c, v in d.items())
        print(f"{kind} final-token logit: {cells}")
    print(f"wrote {out / 'probe.json'} and {out / 'report.html'}")
    return 0
