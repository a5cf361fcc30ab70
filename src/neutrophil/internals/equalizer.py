"""The equalizer: several named steering vectors, each a channel with a setting and a layer range.

A channel's `Setting` is one of three modes:

- `add` (strength s): add s x the direction at each of the channel's layers;
- `ablate`: remove the concept's component from the residual stream at those layers,
  h <- h - (h.d)d with d the unit direction;
- `clamp` (value v): set that component, at each of the channel's layers, to what `add v`
  has added by that layer (`Channel.unit`): v x the vector's norm summed over the layers
  so far, so at the last steered layer v x `strength.UNIT` of the residual norm with
  calibrated vectors.

Written `3` (add), `ablate`, `clamp:2` (and `add:3`) on the command line and in the studio;
`Setting.parse` reads that syntax, the server reads the same as JSON (`serve/steering.py`).

Additions of all channels are summed into one delta per layer; ablations and clamps run
after them, so an ablated concept stays ablated whatever the other sliders add. Hooks are
installed only inside `applied(...)`, which restores the model on exit. Settings can differ
per batch row: `applied(model, row_scales)` multiplies every strength by a per-row factor
(the `ActivationEdit` protocol; a row at 0 is left alone), `applied_rows(model, strengths,
modes)` takes [rows, channels] matrices of strengths and mode codes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any

import torch

from neutrophil.errors import UserError
from neutrophil.internals import hooks
from neutrophil.internals.vector import SteeringVector

MODES = ("add", "ablate", "clamp")  # a mode's code is its index
ADD, ABLATE, CLAMP = range(3)
NEEDS_HOOKS = (
    "ablate and clamp need transformers hooks (--engine hf): a llama.cpp control vector "
    "can only add"
)


@dataclass(frozen=True)
class Setting:
    """One slider: `add` `value`, `ablate` (value unused, 0) or `clamp` at `value`."""

    mode: str = "add"
    value: float = 0.0

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r} (known: {', '.join(MODES)})")
        if isinstance(self.value, bool) or not math.isfinite(self.value):
            raise ValueError(f"{self.mode}: the value must be a finite number")
        object.__setattr__(self, "value", 0.0 if self.mode == "ablate" else float(self.value))

    @property
    def code(self) -> int:
        return MODES.index(self.mode)

    @property
    def is_identity(self) -> bool:
        """Adding 0: the model is untouched (no hook is installed for it)."""
        return self.mode == "add" and self.value == 0.0

    def __str__(self) -> str:
        if self.mode == "ablate":
            return "ablate"
        value = f"{self.value:g}"
        return value if self.mode == "add" else f"{self.mode}:{value}"

    @classmethod
    def parse(cls, text: str) -> Setting:
        """`3` -> add 3, `add:3`, `ablate`, `clamp:2`; ValueError says what is wrong."""
        mode, sep, value = text.strip().partition(":")
        if mode == "ablate" and not sep:
            return cls("ablate")
        if mode in ("add", "clamp") and sep:
            number = value
        elif not sep and mode not in MODES:
            mode, number = "add", text
        else:
            raise ValueError(f"expected a finite number, add:N, ablate or clamp:N, got {text!r}")
        try:
            return cls(mode, float(number))
        except ValueError:
            raise ValueError(
                f"expected a finite number, add:N, ablate or clamp:N, got {text!r}"
            ) from None


def require_hooks(backend: Any, settings: Iterable[Setting]) -> None:
    """Refuse ablate and clamp, in one line, on an engine that steers with control vectors."""
    if backend.edits != "row" and any(s.mode != "add" for s in settings):
        raise UserError(f"{NEEDS_HOOKS} (this model runs on {backend.engine})")


def parse_named(text: str, name_word: str = "NAME") -> tuple[str, Setting]:
    """`joy=2`, `refusal=ablate`, `joy=clamp:1` -> (name, Setting); ValueError otherwise."""
    name, sep, value = text.rpartition("=")
    if not sep or not name:
        raise ValueError(f"expected {name_word}=SETTING (joy=3, refusal=ablate, joy=clamp:2)")
    return name, Setting.parse(value)


@dataclass(frozen=True)
class Channel:
    name: str
    vector: SteeringVector
    strength: float = 1.0  # add: the strength; clamp: the value; ablate: unused
    layers: tuple[int, int] | None = None  # inclusive range; None = every layer it has
    mode: str = "add"

    def __post_init__(self) -> None:
        Setting(self.mode, self.strength)  # checks the mode

    @property
    def setting(self) -> Setting:
        return Setting(self.mode, self.strength)

    def active_layers(self) -> tuple[int, ...]:
        if self.layers is None:
            return self.vector.layers
        lo, hi = self.layers
        return tuple(n for n in self.vector.layers if lo <= n <= hi)

    def unit(self, layer: int) -> float:
        """Clamp's unit at `layer`: the shift `add 1` has made by then, the norms of the
        channel's directions summed over its layers up to `layer`. So `clamp v` ramps up
        through the steered layers as `add v` does, and reaches v at the last one."""
        return sum(
            float(self.vector.directions[n].norm()) for n in self.active_layers() if n <= layer
        )


@dataclass(frozen=True)
class Equalizer:
    channels: tuple[Channel, ...] = ()

    def with_channel(self, channel: Channel) -> Equalizer:
        """A new equalizer with `channel` added (or replacing the one of the same name)."""
        rest = tuple(c for c in self.channels if c.name != channel.name)
        return replace(self, channels=(*rest, channel))

    def set(self, name: str, setting: float | str | Setting) -> Equalizer:
        """Move one slider: a strength to add, or a `Setting` (or its text, `clamp:2`)."""
        if isinstance(setting, str):
            setting = Setting.parse(setting)
        elif not isinstance(setting, Setting):
            setting = Setting("add", float(setting))
        if name not in self.names:
            raise KeyError(f"no channel {name!r} (channels: {', '.join(self.names)})")
        return replace(
            self,
            channels=tuple(
                replace(c, strength=setting.value, mode=setting.mode) if c.name == name else c
                for c in self.channels
            ),
        )

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.channels)

    @property
    def only_adds(self) -> bool:
        return all(c.mode == "add" for c in self.channels)

    def _modes(self, strengths: torch.Tensor, modes: torch.Tensor | Sequence | None):
        if modes is None:
            return torch.full(strengths.shape, ADD, dtype=torch.long)
        m = torch.as_tensor(modes, dtype=torch.long)
        if m.shape != strengths.shape:
            raise ValueError(f"modes must be [rows, {len(self.channels)}] like the strengths")
        return m

    def deltas(
        self, strengths: torch.Tensor, modes: torch.Tensor | None = None
    ) -> dict[int, torch.Tensor]:
        """Per-layer [rows, hidden] additions of the `add` entries of a [rows, channels]
        strength matrix."""
        m = self._modes(strengths, modes)
        out: dict[int, torch.Tensor] = {}
        for j, ch in enumerate(self.channels):
            col = torch.where(m[:, j] == ADD, strengths[:, j], 0.0)
            if not bool(col.ne(0).any()):
                continue
            for n in ch.active_layers():
                add = col[:, None] * ch.vector.directions[n][None, :]
                out[n] = out[n] + add if n in out else add
        return out

    def projections(
        self, strengths: torch.Tensor, modes: torch.Tensor | None = None
    ) -> dict[int, list[hooks.Projection]]:
        """Per-layer ablations and clamps of the [rows, channels] matrices."""
        m = self._modes(strengths, modes)
        out: dict[int, list[hooks.Projection]] = {}
        for j, ch in enumerate(self.channels):
            moved = (m[:, j] == ABLATE) | (m[:, j] == CLAMP)
            if not bool(moved.any()):
                continue
            weight = moved.float()
            value = torch.where(m[:, j] == CLAMP, strengths[:, j], 0.0)
            for n in ch.active_layers():
                v = ch.vector.directions[n]
                unit = v / v.norm().clamp_min(1e-12)
                target = value * ch.unit(n)
                out.setdefault(n, []).append(hooks.Projection(unit, weight, target))
        return out

    def layer_deltas(self, scale: float) -> dict[int, torch.Tensor]:
        """What one row at `scale` adds per layer (a llama.cpp control vector's content).
        Ablate and clamp read each position's activations, which a control vector cannot."""
        if not self.only_adds:
            raise ValueError(NEEDS_HOOKS)
        strengths = torch.tensor([[c.strength * float(scale) for c in self.channels]])
        return {n: d[0] for n, d in self.deltas(strengths).items()}

    def applied_rows(
        self,
        model,
        strengths: torch.Tensor | Sequence,
        modes: torch.Tensor | Sequence | None = None,
    ) -> AbstractContextManager[None]:
        """Row b, channel j: `modes[b, j]` (an index into MODES, default add) with
        `strengths[b, j]`."""
        s = torch.as_tensor(strengths, dtype=torch.float32)
        if s.dim() != 2 or s.shape[1] != len(self.channels):
            raise ValueError(f"strengths must be [rows, {len(self.channels)}]")
        m = self._modes(s, modes)
        return hooks.editing(model, self.deltas(s, m), self.projections(s, m))

    def applied(self, model, row_scales) -> AbstractContextManager[None]:
        """ActivationEdit: row b gets every channel's strength times `row_scales[b]`
        (clamp targets scale too); a row at 0 is not edited, ablations included."""
        scales = hooks.as_row_scales(row_scales)
        base = torch.tensor([c.strength for c in self.channels], dtype=torch.float32)
        codes = torch.tensor([MODES.index(c.mode) for c in self.channels], dtype=torch.long)
        on = scales.ne(0)[:, None]
        modes = torch.where(on, codes[None, :], ADD)
        return self.applied_rows(model, scales[:, None] * base[None, :], modes)
