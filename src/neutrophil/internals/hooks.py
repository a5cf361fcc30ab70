"""Add per-row vectors to decoder-block outputs, inside a context manager.

`adding(model, deltas)` installs one forward hook per layer in `deltas`; each hook adds
`deltas[layer]` ([rows, hidden], one vector per batch row) to every position of that
block's output. Hooks are removed on exit, also when the body raises, so the model is
left exactly as it was.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import torch
from torch import nn

from neutrophil.internals.layers import decoder_layers, hidden_of, with_hidden


@contextmanager
def adding(model: nn.Module, deltas: Mapping[int, torch.Tensor]) -> Iterator[None]:
    blocks = decoder_layers(model)
    handles = []

    def make(delta: torch.Tensor):
        cache: dict[tuple, torch.Tensor] = {}

        def hook(_mod, _inp, out):
            h = hidden_of(out)
            key = (h.device, h.dtype)
            if key not in cache:  # move once per device/dtype, not at every token
                cache[key] = delta.to(device=h.device, dtype=h.dtype)
            d = cache[key]
            if d.shape[0] != h.shape[0]:
                raise ValueError(
                    f"steering has {d.shape[0]} row scales but the batch has {h.shape[0]} rows"
                )
            return with_hidden(out, h + d[:, None, :])

        return hook

    try:
        for layer, delta in deltas.items():
            if delta.dim() != 2:
                raise ValueError("deltas must be [rows, hidden]")
            handles.append(blocks[layer].register_forward_hook(make(delta)))
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
