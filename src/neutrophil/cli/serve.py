"""`neutrophil serve`: an OpenAI-compatible server, guarded when a prefix or system is given.

neutrophil serve --model SPEC [--prefix TEXT | --prefix-file F] [--system TEXT]
                 [--host 127.0.0.1] [--port 8000] [--threads N] [limits...]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys

from neutrophil.errors import UserError

# (flag, dest, default, help): what one request may cost; each refusal is a 400 naming it.
LIMIT_FLAGS = (
    ("--max-tokens", "max_tokens", 512, "max_tokens when a request does not set it"),
    ("--max-tokens-limit", "max_tokens_limit", 2048, "the most max_tokens a request may ask"),
    ("--max-prompt-tokens", "max_prompt_tokens", 4096, "the longest prompt, guard included"),
    ("--max-messages", "max_messages", 512, "the most messages in one chat request"),
    ("--max-body-bytes", "max_body_bytes", 1 << 20, "the largest request body"),
)


def limits_from_args(args: argparse.Namespace):
    """The request limits of `serve` and `studio` from their shared flags."""
    from neutrophil.serve.limits import Limits

    return Limits(
        max_prompt_tokens=args.max_prompt_tokens,
        max_tokens=args.max_tokens_limit,
        default_max_tokens=args.max_tokens,
        max_messages=args.max_messages,
        max_body_bytes=args.max_body_bytes,
    )


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve a model over an OpenAI-compatible API (the guard proxy with --prefix)",
        description="Serve SPEC (a local model or openai:BASE_URL#MODEL) at /v1/chat/completions; "
        "with --prefix/--system every request passes through that defense first.",
    )
    p.add_argument("--model", default=None, help="model spec (default: the embedded model)")
    p.add_argument(
        "--engine",
        choices=["auto", "llama", "hf"],
        default="auto",
        help="for GGUF specs: llama.cpp (auto, when installed) or transformers",
    )
    guard = p.add_mutually_exclusive_group()
    guard.add_argument("--prefix", help="text injected at the start of every assistant turn")
    guard.add_argument("--prefix-file", help="file holding the prefix")
    p.add_argument("--system", help="system-prompt guard added to every request")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--name", help="model name reported to clients (default: the backend's)")
    p.add_argument("--batch-size", type=int, default=32, help="most rows decoded together")
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="CPU threads for generation (default: all the cores this process may use)",
    )
    for flag, dest, default, text in LIMIT_FLAGS:
        p.add_argument(flag, dest=dest, type=int, default=default, help=f"{text} ({default})")
    p.add_argument(
        "--drain-seconds",
        type=float,
        default=3.0,
        help="on SIGTERM, how long running rows may finish before they are cut (3)",
    )
    p.add_argument(
        "--log-level",
        choices=["critical", "error", "warning", "info", "debug"],
        default="info",
        help="server log level (info logs every request)",
    )
    p.add_argument(
        "--require-key",
        action="store_true",
        help="clients must send NEUTROPHIL_SERVE_KEY as their API key (set it in the environment)",
    )
    p.set_defaults(func=run)


def check_args(args: argparse.Namespace) -> None:
    """Refuse bad settings before anything loads: one line, exit 2."""
    if not 1 <= args.port <= 65535:
        raise UserError(f"--port must be from 1 to 65535, got {args.port}")
    for name in ("batch_size", "threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    for flag, dest, _, _ in LIMIT_FLAGS:
        if getattr(args, dest) < 1:
            raise UserError(f"{flag} must be at least 1, got {getattr(args, dest)}")
    if args.max_tokens > args.max_tokens_limit:
        raise UserError(
            f"--max-tokens {args.max_tokens} is over --max-tokens-limit {args.max_tokens_limit}"
        )
    if args.max_body_bytes < 1024:
        raise UserError(f"--max-body-bytes must be at least 1024, got {args.max_body_bytes}")
    if args.drain_seconds < 0:
        raise UserError(f"--drain-seconds must be 0 or more, got {args.drain_seconds:g}")


def run(args: argparse.Namespace) -> int:
    check_args(args)
    from neutrophil.defenses.registry import read_prefix_file
    from neutrophil.serve.proxy import guard_defense
    from neutrophil.serve.runner import bind

    prefix = read_prefix_file(args.prefix_file) if args.prefix_file else args.prefix
    defense = guard_defense(prefix=prefix, system=args.system)
    api_key = os.environ.get("NEUTROPHIL_SERVE_KEY") if args.require_key else None
    if args.require_key and not api_key:
        raise UserError("--require-key: set NEUTROPHIL_SERVE_KEY to the key clients must send")
    # Bind before loading: a port in use is reported at once, not after a model load.
    sock = bind(args.host, args.port)
    try:
        return _serve(args, defense, api_key, sock)
    finally:
        sock.close()


def _serve(args: argparse.Namespace, defense, api_key: str | None, sock) -> int:
    from neutrophil.models import load_backend
    from neutrophil.serve.app import create_app
    from neutrophil.serve.runner import serve_forever

    backend = load_backend(
        args.model, batch_size=args.batch_size, engine=args.engine, threads=args.threads
    )
    limits = limits_from_args(args)
    app = create_app(
        backend,
        defense,
        model_name=args.name,
        aliases=[args.model] if args.model else [],
        max_batch=args.batch_size,
        api_key=api_key,
        limits=limits,
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
