"""`neutrophil serve`: an OpenAI-compatible server, guarded when a prefix or system is given.

neutrophil serve --model SPEC [--prefix TEXT | --prefix-file F] [--system TEXT]
                 [--host 127.0.0.1] [--port 8000]
"""

from __future__ import annotations

import argparse
import os
import sys

from neutrophil.errors import UserError


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve a model over an OpenAI-compatible API (the guard proxy with --prefix)",
        description="Serve SPEC (a local model or openai:BASE_URL#MODEL) at /v1/chat/completions; "
        "with --prefix/--system every request passes through that defense first.",
    )
    p.add_argument("--model", default=None, help="model spec (default: the embedded model)")
    guard = p.add_mutually_exclusive_group()
    guard.add_argument("--prefix", help="text injected at the start of every assistant turn")
    guard.add_argument("--prefix-file", help="file holding the prefix")
    p.add_argument("--system", help="system-prompt guard added to every request")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--name", help="model name reported to clients (default: the backend's)")
    p.add_argument("--batch-size", type=int, default=32, help="most requests per batch")
    p.add_argument("--max-tokens", type=int, default=512, help="default max_tokens")
    p.add_argument(
        "--require-key",
        action="store_true",
        help="clients must send NEUTROPHIL_SERVE_KEY as their API key (set it in the environment)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from neutrophil.models import load_backend
    from neutrophil.serve.app import create_app
    from neutrophil.serve.proxy import guard_defense, read_prefix_file
    from neutrophil.serve.runner import serve_forever

    prefix = read_prefix_file(args.prefix_file) if args.prefix_file else args.prefix
    defense = guard_defense(prefix=prefix, system=args.system)
    api_key = os.environ.get("NEUTROPHIL_SERVE_KEY") if args.require_key else None
    if args.require_key and not api_key:
        raise UserError("--require-key: set NEUTROPHIL_SERVE_KEY to the key clients must send")
    backend = load_backend(args.model, batch_size=args.batch_size)
    app = create_app(
        backend,
        defense,
        model_name=args.name,
        max_batch=args.batch_size,
        default_max_tokens=args.max_tokens,
        api_key=api_key,
    )
    guarded = f" guarded by {defense.describe()}" if defense else ""
    print(f"serving {backend.name}{guarded} at http://{args.host}:{args.port}/v1", file=sys.stderr)
    serve_forever(app, host=args.host, port=args.port)
    return 0
