"""Edit decoder-block outputs per batch row, inside a context manager.

`editing(model, adds, projections)` installs one forward hook per edited layer. Each hook
first adds `adds[layer]` ([rows, hidden], one vector per batch row) to every position of
the block's output, then applies that layer's `Projection`s in order: for a unit direction
d, row b's component along d is moved to `target[b]` with weight `weight[b]`,

    h <- h + weight * (target - h.d) d

so weight 1 and target 0 remove the component (ablation), weight 1 and target t pin it
at t (clamping), weight 0 leaves the row alone. `adding(model, deltas)` is the additions
alone. Hooks are removed on exit, also when the body raises, so the model is left exactly
as it was.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn

from neutrophil.internals.layers import decoder_layers, hidden_of, with_hidden


@dataclass(frozen=True)
class Projection:
    """Move each row's component along `direction` to `target`, by `weight` (see module doc)."""

    direction: torch.Tensor  # [hidden], unit norm
    weight: torch.Tensor  # [rows]
    target: torch.Tensor  # [rows]


def adding(model: nn.Module, deltas: Mapping[int, torch.Tensor]):
    """Add `deltas[layer]` ([rows, hidden]) to block `layer`'s output."""
    return editing(model, deltas, {})


@contextmanager
def editing(
    model: nn.Module,
    adds: Mapping[int, torch.Tensor],
    projections: Mapping[int, Sequence[Projection]],
) -> Iterator[None]:
    blocks = decoder_layers(model)
    handles = []

    def make(add: torch.Tensor | None, moves: Sequence[Projection]):
        cache: dict[tuple, tuple] = {}

        def hook(_mod, _inp, out):
            h = hidden_of(out)
            key = (h.device, h.dtype)
            if key not in cache:  # move once per device/dtype, not at every token
                cache[key] = (
                    None if add is None else add.to(device=h.device, dtype=h.dtype),
                    [
                        (
                            p.direction.to(device=h.device, dtype=torch.float32),
                            p.weight.to(device=h.device, dtype=torch.float32)[:, None, None],
                            p.target.to(device=h.device, dtype=torch.float32)[:, None, None],
                        )
                        for p in moves
                    ],
                )
            d_add, d_moves = cache[key]
            rows = d_add.shape[0] if d_add is not None else d_moves[0][1].shape[0]
            if rows != h.shape[0]:
                raise ValueError(
                    f"steering has {rows} row scales but the batch has {h.shape[0]} rows"
                )
            if d_add is not None:
                h = h + d_add[:, None, :]
            if d_moves:
                # In float32: a bf16 dot product over the hidden size is too coarse to
                # leave an ablated component near zero.
                x = h.float()
                for direction, weight, target in d_moves:
                    component = x @ direction  # [rows, positions]
                    x = x + weight * (target - component[..., None]) * direction
                h = x.to(h.dtype)
            return with_hidden(out, h)

        return hook

    try:
        for layer in sorted(set(adds) | set(projections)):
            add = adds.get(layer)
            if add is not None and add.dim() != 2:
                raise ValueError("deltas must be [rows, hidden]")
            moves = list(projections.get(layer, ()))
            if add is None and not moves:
                continue
            handles.append(blocks[layer].register_forward_hook(make(add, moves)))
        yield
    finally:
        for h in handles:
            h.remove()


def as_row_scales(row_scales, rows: int | None = None) -> torch.Tensor:
    """A 1-D float tensor of per-row multipliers (a number broadcasts to `rows`)."""
    t = torch.as_tensor(row_scales, dtype=torch.float32).flatten()
    if t.numel() == 1 and rows is not None:
        t = t.expand(rows)
    return t
