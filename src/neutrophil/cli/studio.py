"""`neutrophil studio`: the OpenAI-compatible server with per-request steering, and the
equalizer page at `/`.

neutrophil studio [--model SPEC] [--port 8000] [--host 127.0.0.1] [--vectors DIR]
                  [--prefix-file F] [--require-key]

A GGUF (the embedded model included) decodes on llama.cpp: a mix that only adds is a
control vector there, and rows are grouped by mix (the control vector is context-wide).
Ablate and clamp read each position's activations: those rows decode on the transformers
twin of the same weights, which also serves the gate, the concept meter and new concepts.
`--engine hf` decodes everything on transformers (each row its own mix, one batch).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from pathlib import Path

from neutrophil.cli.common import (
    add_model_arg,
    add_server_args,
    check_server_args,
    limits_from_args,
    model_options,
)
from neutrophil.errors import UserError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "studio",
        help="the equalizer studio: a web page of concept sliders over a steering server",
        description="Serve SPEC at /v1 (requests may carry the `neutrophil` steering field) "
        "and the equalizer page at /.",
    )
    add_model_arg(p, batch=False)
    p.add_argument("--vectors", metavar="DIR", help="more sliders: every .safetensors/.gguf here")
    p.add_argument("--prefix-file", help="the PING prefix the page can switch on")
    add_server_args(
        p,
        batch_size=8,
        log_level="warning",
        helps={
            "--threads": "CPU threads for generation",
            "--drain-seconds": "SIGTERM grace (3)",
            "--log-level": None,
            "--require-key": "API calls (the page's too) need NEUTROPHIL_SERVE_KEY as their key",
        },
    )
    p.set_defaults(func=run)


def concept_specs(vectors: str | None) -> dict[str, str]:
    """Slider name -> what `calibrated_vector` resolves: the built-ins, then DIR's files."""
    from neutrophil.internals.pairs import concept_names

    specs = {name: name for name in concept_names()}
    if vectors:
        root = Path(vectors)
        if not root.is_dir():
            raise UserError(f"--vectors {vectors}: not a directory")
        for path in sorted(root.iterdir()):
            if path.suffix in (".safetensors", ".gguf"):
                specs[path.stem] = str(path)
    return specs


def run(args: argparse.Namespace) -> int:
    check_server_args(args)
    from neutrophil.defenses.registry import read_prefix_file
    from neutrophil.serve.runner import bind

    prefix = read_prefix_file(args.prefix_file) if args.prefix_file else None
    specs = concept_specs(args.vectors)
    api_key = os.environ.get("NEUTROPHIL_SERVE_KEY") if args.require_key else None
    if args.require_key and not api_key:
        raise UserError("--require-key: set NEUTROPHIL_SERVE_KEY to the key clients must send")
    sock = bind(args.host, args.port)  # before loading: a port in use is said at once
    try:
        return _serve(args, specs, prefix, api_key, sock)
    finally:
        sock.close()


def _serve(args: argparse.Namespace, specs: dict[str, str], prefix, api_key, sock) -> int:
    from neutrophil.serve.app import create_app
    from neutrophil.serve.runner import serve_forever
    from neutrophil.serve.steering import build

    backend = model_options(args).load()
    print(f"studio: fitting {len(specs)} concepts and the gate on {backend.name}", file=sys.stderr)
    steering = build(backend, specs, prefix=prefix)
    limits = limits_from_args(args)
    app = create_app(
        backend,
        model_name=None,
        aliases=[args.model],
        max_batch=args.batch_size,
        api_key=api_key,
        limits=limits,
        steering=steering,
    )
    url = f"http://{args.host}:{args.port}/"
    print(f"studio: {url} (API at {url}v1)", file=sys.stderr, flush=True)
    serve_forever(app, sock=sock, drain_s=args.drain_seconds, log_level=args.log_level)
    gc.freeze()  # as `serve`: exit without walking torch's objects
    return 0
