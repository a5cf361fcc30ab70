"""`SteeringVector`: one direction per layer, with arithmetic, save/load and a hook.

Saved as one safetensors file: tensors `direction.N` (N = layer, see the package
docstring) and the metadata as JSON under the header key `neutrophil`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from neutrophil.errors import UserError
from neutrophil.files import atomic_path
from neutrophil.internals import hooks


@dataclass(frozen=True)
class SteeringVector:
    directions: Mapping[int, torch.Tensor]  # layer -> [hidden] float32
    metadata: Mapping[str, Any] = field(default_factory=dict)  # model, method, layers, dataset

    def __post_init__(self) -> None:
        dirs = {int(k): v.detach().float().cpu().flatten() for k, v in self.directions.items()}
        object.__setattr__(self, "directions", dict(sorted(dirs.items())))
        meta = dict(self.metadata)
        meta["layers"] = list(self.directions)
        object.__setattr__(self, "metadata", meta)

    @property
    def layers(self) -> tuple[int, ...]:
        return tuple(self.directions)

    # arithmetic -------------------------------------------------------------
    def _combine(self, other: SteeringVector, sign: float) -> SteeringVector:
        if not isinstance(other, SteeringVector):
            return NotImplemented
        out = dict(self.directions)
        for k, v in other.directions.items():
            out[k] = out[k] + sign * v if k in out else sign * v
        meta = dict(self.metadata)
        meta["method"] = (
            f"({self.metadata.get('method')}{'+' if sign > 0 else '-'}{other.metadata.get('method')})"
        )
        return SteeringVector(out, meta)

    def __add__(self, other: SteeringVector) -> SteeringVector:
        return self._combine(other, 1.0)

    def __sub__(self, other: SteeringVector) -> SteeringVector:
        return self._combine(other, -1.0)

    def __mul__(self, k: float) -> SteeringVector:
        if not isinstance(k, int | float):
            return NotImplemented
        return SteeringVector({n: v * float(k) for n, v in self.directions.items()}, self.metadata)

    __rmul__ = __mul__

    def __neg__(self) -> SteeringVector:
        return self * -1.0

    def __truediv__(self, k: float) -> SteeringVector:
        return self * (1.0 / k)

    def normalized(self) -> SteeringVector:
        """Each layer's direction scaled to unit L2 norm (zero vectors stay zero)."""
        dirs = {n: v / v.norm().clamp_min(1e-12) for n, v in self.directions.items()}
        return SteeringVector(dirs, self.metadata)

    def digest(self) -> str:
        """A short hash of the directions: two vectors with the same digest steer alike."""
        import hashlib

        h = hashlib.sha256()
        for n, v in self.directions.items():
            h.update(f"{n}:".encode())
            h.update(v.contiguous().numpy().tobytes())
        return h.hexdigest()[:12]

    def restricted(self, layers) -> SteeringVector:
        """Only the given layers (those the vector has)."""
        keep = set(layers)
        return SteeringVector(
            {n: v for n, v in self.directions.items() if n in keep}, self.metadata
        )

    # applying ---------------------------------------------------------------
    def applied(self, model, row_scales) -> AbstractContextManager[None]:
        """ActivationEdit: add `row_scales[b] * direction[N]` to block N's output, row b."""
        scales = hooks.as_row_scales(row_scales)
        deltas = {n: scales[:, None] * v[None, :] for n, v in self.directions.items()}
        return hooks.adding(model, deltas)

    def layer_deltas(self, scale: float) -> dict[int, torch.Tensor]:
        """What one row at `scale` adds per layer (a llama.cpp control vector's content)."""
        return {n: v * float(scale) for n, v in self.directions.items()}

    def apply(self, model, multiplier: float = 1.0, rows: int = 1) -> AbstractContextManager[None]:
        """Same multiplier on every one of `rows` batch rows."""
        return self.applied(model, hooks.as_row_scales(multiplier, rows))

    # files ------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        from safetensors.torch import save_file

        tensors = {f"direction.{n}": v.contiguous() for n, v in self.directions.items()}
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={"neutrophil": json.dumps(dict(self.metadata))})

    @classmethod
    def load(cls, path: str | Path) -> SteeringVector:
        from safetensors import SafetensorError, safe_open

        try:
            with safe_open(str(path), framework="pt") as f:
                meta = json.loads((f.metadata() or {}).get("neutrophil", "{}"))
                dirs = {_layer_of(k, path): f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
        except (OSError, ValueError, SafetensorError) as e:
            raise UserError(f"{path}: not a steering-vector safetensors file ({e})") from None
        if not dirs:
            raise UserError(f"{path}: no direction tensors")
        return cls(dirs, meta)

    def check_fits(self, model: Any, name: str) -> None:
        """Refuse, in one line, a vector whose layers or size do not fit `model` (a vector of
        another model would otherwise fail as a tensor-shape traceback mid-generation)."""
        from neutrophil.internals.layers import check_layers, num_layers

        hidden = model.get_input_embeddings().embedding_dim
        for layer, direction in self.directions.items():
            if direction.numel() != hidden:
                raise UserError(
                    f"vector {name}: direction.{layer} has {direction.numel()} values, the "
                    f"model's hidden size is {hidden} (a vector of another model?)"
                )
        check_layers(list(self.layers), num_layers(model), f"vector {name}: layer")


def _layer_of(name: str, path: Any) -> int:
    prefix, _, num = name.rpartition(".")
    if prefix != "direction" or not num.isdigit():
        raise UserError(f"{path}: unexpected tensor {name!r} (expected direction.N)")
    return int(num)
