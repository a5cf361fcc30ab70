"""`neutrophil serve`: an OpenAI-compatible server, guarded when a prefix or system is given.

neutrophil serve --model SPEC [--prefix TEXT | --prefix-file F] [--system TEXT]
                 [--host 127.0.0.1] [--port 8000] [--threads N] [limits...]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys

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
        "serve",
        help="serve a model over an OpenAI-compatible API (the guard proxy with --prefix)",
        description="Serve SPEC (a local model or openai:BASE_URL#MODEL) at /v1/chat/completions; "
        "with --prefix/--system every request passes through that defense first.",
    )
    add_model_arg(p, batch=False)
    guard = p.add_mutually_exclusive_group()
    guard.add_argument("--prefix", help="text injected at the start of every assistant turn")
    guard.add_argument("--prefix-file", help="file holding the prefix")
    p.add_argument("--system", help="system-prompt guard added to every request")
    p.add_argument(
        "--gate",
        action="store_true",
        help="inject the prefix only where the harm gate fires (a probe on the prompt's "
        "hidden states, fitted on the built-in train split; local models)",
    )
    p.add_argument(
        "--record-flagged",
        metavar="FILE",
        help="immune memory: append each request the gate flags (or a client marks with "
        "X-Neutrophil-Flag: harmful) to FILE as a task row, deduplicated; "
        "`optimize --tasks FILE` searches on them",
    )
    p.add_argument("--name", help="model name reported to clients (default: the backend's)")
    add_server_args(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    check_server_args(args)
    from neutrophil.defenses.registry import guard_defense, read_prefix_file
    from neutrophil.serve.runner import bind

    prefix = read_prefix_file(args.prefix_file) if args.prefix_file else args.prefix
    defense = None if args.gate else guard_defense(prefix=prefix, system=args.system)
    record = None
    if args.record_flagged:
        from neutrophil.serve.memory import FlaggedLog

        record = FlaggedLog(args.record_flagged)  # writable before the model loads
    api_key = os.environ.get("NEUTROPHIL_SERVE_KEY") if args.require_key else None
    if args.require_key and not api_key:
        raise UserError("--require-key: set NEUTROPHIL_SERVE_KEY to the key clients must send")
    # Bind before loading: a port in use is reported at once, not after a model load.
    sock = bind(args.host, args.port)
    try:
        return _serve(args, defense, api_key, sock, prefix, record)
    finally:
        sock.close()


def _serve(args: argparse.Namespace, defense, api_key: str | None, sock, prefix, record) -> int:
    from neutrophil.serve.app import create_app
    from neutrophil.serve.runner import serve_forever

    backend = model_options(args).load()
    if args.gate:
        from neutrophil.defenses.registry import build_defense

        defense = build_defense("gated-prefix", backend=backend, prefix=prefix, system=args.system)
    limits = limits_from_args(args)
    app = create_app(
        backend,
        defense,
        model_name=args.name,
        aliases=[args.model],
        max_batch=args.batch_size,
        api_key=api_key,
        limits=limits,
        record=record,
    )
    guarded = f" guarded by {defense.describe()}" if defense else ""
    url = f"http://{args.host}:{args.port}/v1"
    print(f"serving {backend.name}{guarded} at {url}", file=sys.stderr, flush=True)
    serve_forever(app, sock=sock, drain_s=args.drain_seconds, log_level=args.log_level)
    # The process ends now. Its final garbage collections would walk the ~400k objects of
    # torch and transformers (3+ s on a busy 2-core VM) and find nothing to finalize: leave
    # them out, so a SIGTERM'd server is gone within a second of its drain.
    gc.freeze()
    return 0
