"""Gates: decide per batch row, from the activation at the last prompt token, whether a
condition (harm) is present.

A gate is a linear score on one layer's activation. It comes from a logistic probe
(`Gate.fit`) or from a condition vector's projection (`Gate.from_vector`, CAST-style:
score = activation . unit(v) minus the midpoint between the two classes' projections).
Scores are logits: > threshold (default 0) means "present".
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from neutrophil.errors import UserError
from neutrophil.files import atomic_write
from neutrophil.internals.capture import capture
from neutrophil.internals.probes import LinearProbe, fit_logistic
from neutrophil.internals.vector import SteeringVector


@dataclass(frozen=True)
class Gate:
    layer: int
    probe: LinearProbe
    threshold: float = 0.0
    kind: str = "probe"  # "probe" | "vector"

    def scores_from_acts(self, acts: torch.Tensor) -> np.ndarray:
        return self.probe.logits(acts).numpy()

    def scores(self, model, tokenizer, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """One logit per text, read at its last token (texts end at the assistant header)."""
        cap = capture(model, tokenizer, list(texts), layers=[self.layer], batch_size=batch_size)
        return self.scores_from_acts(cap.layer(self.layer))

    def flags(
        self,
        model,
        tokenizer,
        texts: Sequence[str],
        threshold: float | None = None,
        batch_size: int = 16,
    ) -> np.ndarray:
        t = self.threshold if threshold is None else threshold
        return self.scores(model, tokenizer, texts, batch_size) > t

    def with_threshold(self, threshold: float) -> Gate:
        return replace(self, threshold=threshold)

    # fitting ----------------------------------------------------------------
    @classmethod
    def fit_acts(cls, pos: torch.Tensor, neg: torch.Tensor, layer: int, c: float = 1.0) -> Gate:
        """Logistic probe on [n, hidden] activations (pos = condition present)."""
        x = torch.cat([pos, neg])
        y = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))])
        return cls(layer, fit_logistic(x, y, c=c))

    @classmethod
    def fit(
        cls,
        model,
        tokenizer,
        present: Sequence[str],
        absent: Sequence[str],
        layer: int,
        batch_size: int = 16,
    ) -> Gate:
        cap = capture(model, tokenizer, [*present, *absent], layers=[layer], batch_size=batch_size)
        acts = cap.layer(layer)
        return cls.fit_acts(acts[: len(present)], acts[len(present) :], layer)

    @classmethod
    def from_vector_acts(
        cls, vector: SteeringVector, layer: int, pos: torch.Tensor, neg: torch.Tensor
    ) -> Gate:
        """Projection on the condition vector, offset to the midpoint of the class means."""
        u = vector.directions[layer]
        u = u / u.norm().clamp_min(1e-12)
        mid = 0.5 * float((pos.float() @ u).mean() + (neg.float() @ u).mean())
        hidden = u.numel()
        probe = LinearProbe(torch.zeros(hidden), torch.ones(hidden), u, -mid)
        return cls(layer, probe, 0.0, "vector")

    # files ------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {
            "layer": self.layer,
            "threshold": self.threshold,
            "kind": self.kind,
            "probe": self.probe.to_dict(),
        }

    def save(self, path: str | Path) -> None:
        atomic_write(path, json.dumps(self.to_dict()))

    @classmethod
    def load(cls, path: str | Path) -> Gate:
        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
            return cls(
                int(d["layer"]),
                LinearProbe.from_dict(d["probe"]),
                float(d.get("threshold", 0.0)),
                str(d.get("kind", "probe")),
            )
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise UserError(f"{path}: not a gate file ({e})") from None
