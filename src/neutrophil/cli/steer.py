"""`neutrophil steer`: answer a prompt with and without an equalizer of steering vectors."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from neutrophil.cli.common import add_model_arg, at_least_1

if TYPE_CHECKING:  # the equalizer imports torch; `--help` should not
    from neutrophil.internals.equalizer import Setting


def register(sub) -> None:
    p = sub.add_parser(
        "steer",
        help="generate with steering vectors applied (prints steered and unsteered answers)",
        description=(
            "Each --vector NAME=SETTING adds one equalizer channel; NAME is a built-in concept "
            "(refusal, joy, anger, fear, calm, formality; extracted on first use and cached), "
            "a .safetensors vector or a llama.cpp .gguf control vector. SETTING is a strength "
            "to add (joy=3), `ablate` (remove the concept's component: refusal=ablate) or "
            "`clamp:V` (pin it at V: joy=clamp:2). Strengths are in calibrated units (each "
            "layer's direction is scaled to the model's typical residual-stream norm, spread "
            "over the steered layers): 1 is a moderate shift, 2-4 a strong one; --raw adds "
            "the vectors as they are stored. Ablate and clamp need --engine hf."
        ),
    )
    add_model_arg(p)
    p.add_argument(
        "--vector",
        action="append",
        required=True,
        metavar="NAME=SETTING",
        help="a channel: NAME=3 (add), NAME=ablate, NAME=clamp:2; repeat for more",
    )
    p.add_argument(
        "--layers", help="apply only in these layers, e.g. 8-20 (default: the middle third)"
    )
    p.add_argument(
        "--raw", action="store_true", help="add the stored vectors unscaled (strength x vector)"
    )
    p.add_argument(
        "--method",
        choices=["mean", "pca", "pca-signed", "probe"],
        default="mean",
        help="for built-in concepts",
    )
    p.add_argument("--max-new-tokens", type=at_least_1, default=80)
    p.add_argument("prompt")
    p.set_defaults(func=run)


def parse_channel(text: str) -> tuple[str, Setting]:
    from neutrophil.errors import UserError
    from neutrophil.internals.equalizer import parse_named

    try:
        return parse_named(text)
    except ValueError as e:
        raise UserError(f"--vector {text}: {e}") from None


def run(args: argparse.Namespace) -> int:
    from neutrophil.cli.common import model_options
    from neutrophil.workflows.steering import SteerConfig, steer

    config = SteerConfig(
        prompt=args.prompt,
        channels=[parse_channel(v) for v in args.vector],
        model=model_options(args),
        layers=args.layers,
        raw=args.raw,
        method=args.method,
        max_new_tokens=args.max_new_tokens,
    )
    result = steer(config)
    sliders = ", ".join(f"{name}={setting}" for name, setting in result.mix.items())
    print(
        f"--- unsteered\n{result.plain.text.strip()}\n"
        f"--- steered ({sliders})\n{result.steered.text.strip()}"
    )
    return 0
