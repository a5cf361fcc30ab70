"""`neutrophil vector`: extract steering vectors, convert to/from llama.cpp GGUF."""

from __future__ import annotations

import argparse
import sys

from neutrophil.cli.common import add_model_arg, model_options
from neutrophil.files import writable_file


def register(sub) -> None:
    p = sub.add_parser("vector", help="extract steering vectors; GGUF control-vector export/import")
    vs = p.add_subparsers(dest="vector_command", metavar="ACTION", parser_class=type(p))
    ex = vs.add_parser("extract", help="extract a vector from a built-in concept or a pairs file")
    src = ex.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--concept", help="built-in concept: refusal, joy, anger, fear, calm, formality"
    )
    src.add_argument(
        "--pairs", help="JSONL of contrastive pairs: positive, negative, optional prompt"
    )
    add_model_arg(ex, engine=False)
    ex.add_argument("--method", choices=["mean", "pca", "pca-signed", "probe"], default="mean")
    ex.add_argument("--layers", help="layers to keep, e.g. 8-20 (default: all)")
    ex.add_argument(
        "--calibrate",
        action="store_true",
        help=(
            "rescale to calibrated strength units (see `neutrophil steer`; default layers: "
            "the middle third), so a llama.cpp --control-vector-scaled strength means the same"
        ),
    )
    ex.add_argument("--out", required=True, help="output .safetensors file")
    ex.set_defaults(func=run_extract)
    eg = vs.add_parser("export-gguf", help="write a llama.cpp control vector (.gguf)")
    eg.add_argument("vector", help="input .safetensors vector")
    eg.add_argument("--out", required=True, help="output .gguf file")
    eg.add_argument("--model-hint", help="controlvector.model_hint (default: the model type)")
    eg.set_defaults(func=run_export)
    ig = vs.add_parser("import-gguf", help="read a llama.cpp control vector (.gguf)")
    ig.add_argument("vector", help="input .gguf control vector")
    ig.add_argument("--out", required=True, help="output .safetensors file")
    ig.set_defaults(func=run_import)
    p.set_defaults(func=lambda _a: (p.print_help(), 2)[1])


def run_extract(args: argparse.Namespace) -> int:
    from neutrophil.workflows.steering import ExtractConfig, extract

    config = ExtractConfig(
        concept=args.concept,
        pairs=args.pairs,
        model=model_options(args, engine="hf"),
        method=args.method,
        layers=args.layers,
        calibrate=args.calibrate,
    )
    done = extract(config, args.out)
    layers = len(done.vector.layers)
    print(f"wrote {args.out}: {layers} layers, method {args.method}, {done.pairs} pairs")
    return 0


def run_export(args: argparse.Namespace) -> int:
    from neutrophil.internals.gguf_io import export_gguf
    from neutrophil.internals.vector import SteeringVector

    writable_file(args.out)
    vec = SteeringVector.load(args.vector)
    dropped = export_gguf(vec, args.out, model_hint=args.model_hint)
    kept = [n for n in vec.layers if n not in dropped]
    print(f"wrote {args.out}: direction.{kept[0]}..direction.{kept[-1]}")
    if dropped:
        print(
            f"left out layer {', '.join(map(str, dropped))}: llama.cpp control vectors have "
            "no slot for block 0's output",
            file=sys.stderr,
        )
    return 0


def run_import(args: argparse.Namespace) -> int:
    from neutrophil.internals.gguf_io import import_gguf

    writable_file(args.out)
    vec = import_gguf(args.vector)
    vec.save(args.out)
    print(f"wrote {args.out}: {len(vec.layers)} layers")
    return 0
