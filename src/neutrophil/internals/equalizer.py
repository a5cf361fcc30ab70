"""The equalizer: several named steering vectors, each with a strength and a layer range.

All channels are summed into one delta per layer and added by forward hooks inside
`applied(...)`, which restores the model on exit. Strengths can differ per batch row:
`applied(model, row_scales)` multiplies every channel by a per-row factor (the
`ActivationEdit` protocol), `applied_rows(model, strengths)` takes a [rows, channels]
matrix of strengths.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace

import torch

from neutrophil.internals import hooks
from neutrophil.internals.vector import SteeringVector


@dataclass(frozen=True)
class Channel:
    name: str
    vector: SteeringVector
    strength: float = 1.0
    layers: tuple[int, int] | None = None  # inclusive range; None = every layer it has

    def active_layers(self) -> tuple[int, ...]:
        if self.layers is None:
            return self.vector.layers
        lo, hi = self.layers
        return tuple(n for n in self.vector.layers if lo <= n <= hi)


@dataclass(frozen=True)
class Equalizer:
    channels: tuple[Channel, ...] = ()

    def with_channel(self, channel: Channel) -> Equalizer:
        """A new equalizer with `channel` added (or replacing the one of the same name)."""
        rest = tuple(c for c in self.channels if c.name != channel.name)
        return replace(self, channels=(*rest, channel))

    def set(self, name: str, strength: float) -> Equalizer:
        """Move one slider."""
        return replace(
            self,
            channels=tuple(
                replace(c, strength=strength) if c.name == name else c for c in self.channels
            ),
        )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.channels)

    def deltas(self, strengths: torch.Tensor) -> dict[int, torch.Tensor]:
        """Per-layer [rows, hidden] additions for a [rows, channels] strength matrix."""
        out: dict[int, torch.Tensor] = {}
        for j, ch in enumerate(self.channels):
            col = strengths[:, j]
            if not bool(col.ne(0).any()):
                continue
            for n in ch.active_layers():
                add = col[:, None] * ch.vector.directions[n][None, :]
                out[n] = out[n] + add if n in out else add
        return out

    def layer_deltas(self, scale: float) -> dict[int, torch.Tensor]:
        """What one row at `scale` adds per layer (a llama.cpp control vector's content)."""
        strengths = torch.tensor([[c.strength * float(scale) for c in self.channels]])
        return {n: d[0] for n, d in self.deltas(strengths).items()}

    def applied_rows(
        self, model, strengths: torch.Tensor | Sequence
    ) -> AbstractContextManager[None]:
        s = torch.as_tensor(strengths, dtype=torch.float32)
        if s.dim() != 2 or s.shape[1] != len(self.channels):
            raise ValueError(f"strengths must be [rows, {len(self.channels)}]")
        return hooks.adding(model, self.deltas(s))

    def applied(self, model, row_scales) -> AbstractContextManager[None]:
        """ActivationEdit: row b gets every channel at `strength * row_scales[b]`."""
        scales = hooks.as_row_scales(row_scales)
        base = torch.tensor([c.strength for c in self.channels], dtype=torch.float32)
        return self.applied_rows(model, scales[:, None] * base[None, :])
