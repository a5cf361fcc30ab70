"""`neutrophil probe`: per-layer harm probes, a token-position scan, prefix vs suffix."""

from __future__ import annotations

import argparse
import json
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
    from neutrophil.cli.common import load_model
    from neutrophil.defenses.texts import PROBE_PREFIX
    from neutrophil.envs.registry import load_tasks
    from neutrophil.errors import UserError
    from neutrophil.files import writable_dir
    from neutrophil.internals.layers import check_layers, num_layers, parse_layer_spec
    from neutrophil.internals.probe_report import render_html
    from neutrophil.internals.study import run_study
    from neutrophil.models.base import require_local

    writable_dir(args.out)
    train = load_tasks(args.tasks, split="train", limit=args.limit)
    test = load_tasks(args.tasks, split="test", limit=args.limit)
    for name, ts in (("train", train), ("test", test)):
        if {t.kind for t in ts} != {"harmful", "benign"}:
            raise UserError(f"{args.tasks}: the {name} split needs both harmful and benign tasks")
    # Probes read hidden states: transformers, whatever engine generates elsewhere.
    backend = require_local(load_model(args, engine="hf"), "probing")
    layers = parse_layer_spec(args.layers) if args.layers else None
    n_layers = num_layers(backend.model)
    check_layers(layers, n_layers)
    if args.scan_layer is not None:
        check_layers([args.scan_layer], n_layers, "--scan-layer")
        if layers is not None and args.scan_layer not in layers:
            raise UserError(f"--scan-layer {args.scan_layer}: not among --layers {args.layers}")
    result, _ = run_study(
        backend.model,
        backend.tokenizer,
        train,
        test,
        prefix=args.prefix or PROBE_PREFIX,
        layers=layers,
        scan_layer=args.scan_layer,
        progress=lambda m: print(f"probe: {m}", flush=True),
    )
    result["model"] = backend.name
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "probe.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    (out / "report.html").write_text(render_html(result, backend.name), encoding="utf-8")
    best = next(r for r in result["layers"] if r["layer"] == result["best_layer"])
    print(f"best layer {best['layer']}: accuracy {best['accuracy']:.3f}, AUROC {best['auroc']:.3f}")
    for kind, d in result["placement"].items():
        cells = ", ".join(f"{c} {v['mean_logit']:+.2f}" for c, v in d.items())
        print(f"{kind} final-token logit: {cells}")
    print(f"wrote {out / 'probe.json'} and {out / 'report.html'}")
    return 0
