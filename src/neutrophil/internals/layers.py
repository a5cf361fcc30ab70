"""Find a model's decoder blocks and read/replace the hidden state in a block's output."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from neutrophil.errors import UserError

# Attribute paths to the list of decoder blocks, tried in order.
_PATHS = (
    ("model", "layers"),  # llama, qwen2, mistral, gemma3 text (XForCausalLM.model.layers)
    ("model", "language_model", "layers"),  # multimodal wrappers (gemma3 conditional gen)
    ("layers",),  # a bare decoder model
    ("transformer", "h"),  # gpt2, gpt-j
    ("gpt_neox", "layers"),
    ("model", "decoder", "layers"),  # opt
)


def decoder_layers(model: nn.Module) -> nn.ModuleList:
    """The decoder blocks, in order. Raises ValueError when the layout is unknown."""
    for path in _PATHS:
        obj: Any = model
        for attr in path:
            obj = getattr(obj, attr, None)
            if obj is None:
                break
        if isinstance(obj, nn.ModuleList) and len(obj) > 0:
            return obj
    raise ValueError(f"cannot find decoder layers in {type(model).__name__}")


def num_layers(model: nn.Module) -> int:
    return len(decoder_layers(model))


def hidden_of(output: Any) -> torch.Tensor:
    """The residual-stream tensor in a block's output (a tensor, or a tuple starting with it)."""
    return output if torch.is_tensor(output) else output[0]


def with_hidden(output: Any, hidden: torch.Tensor) -> Any:
    """`output` with its hidden-state tensor replaced, keeping the same structure."""
    if torch.is_tensor(output):
        return hidden
    return (hidden, *output[1:])


def resolve_layers(model: nn.Module, layers: Any) -> tuple[int, ...]:
    """Normalise a layer selection (None = all, ints may be negative) to sorted indices."""
    n = num_layers(model)
    if layers is None:
        return tuple(range(n))
    out = sorted({i % n if -n <= i < n else _bad_layer(i, n) for i in layers})
    return tuple(out)


def _bad_layer(i: int, n: int) -> int:
    raise ValueError(f"layer {i} out of range for a model with {n} decoder layers")


def parse_layer_spec(text: str) -> tuple[int, ...]:
    """`"8-20"` (inclusive range), `"3,5,7"`, or a mix like `"1-3,9"`."""
    from neutrophil.errors import UserError

    out: set[int] = set()
    try:
        for part in text.split(","):
            lo, sep, hi = part.strip().partition("-")
            out.update(range(int(lo), int(hi) + 1) if sep else [int(lo)])
    except ValueError:
        raise UserError(f"--layers {text}: expected N, N-M or a comma list") from None
    if not out:
        raise UserError(f"--layers {text}: no layers")
    return tuple(sorted(out))


def check_layers(layers: list[int] | None, n_layers: int, flag: str = "--layers") -> None:
    """Layer numbers exist in a model of `n_layers` decoder blocks (else one line)."""
    bad = [i for i in layers or [] if not 0 <= i < n_layers]
    if bad:
        raise UserError(
            f"{flag} {bad[0]}: out of range for a model with {n_layers} decoder layers "
            f"(0-{n_layers - 1})"
        )
