"""Activation defenses for local models: `steer`, `gated-steer`, `gated-prefix`.

- steer: add the refusal vector (times `strength`, in the calibrated units of
  `internals.strength`: 1 = a moderate shift, default 4) on every row.
- gated-steer: a probe gate reads the last prompt token; only flagged rows are steered
  (the edit rides on every row, with `edit_scale` 0 for unflagged ones, so one batch).
- gated-prefix: only flagged rows get the prefix injected at the start of the answer.

`default_for(backend)` fits the refusal direction (mean harmful - mean benign activation
at the last prompt token, as in Arditi et al. 2024; calibrated on the middle third of
the layers) and the gate on the built-in chat train split, picks the gate layer by AUROC on the val split, and caches both under
`<cache>/<model-name>/steering/`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from neutrophil.defenses.base import PromptDefense, place_prefix
from neutrophil.defenses.texts import GATED_PREFIX
from neutrophil.errors import UserError
from neutrophil.internals.equalizer import Equalizer, require_hooks
from neutrophil.internals.gate import Gate
from neutrophil.internals.vector import SteeringVector
from neutrophil.models.base import Backend, Request, require_local

DEFAULT_STRENGTH = 4.0  # calibrated units: refuses visibly and stays fluent on SmolLM2


def _local(backend: Backend) -> Any:
    return require_local(backend, "a steering or gated defense")


def _gate_flags(gate: Gate, backend: Backend, requests: Sequence[Request]) -> np.ndarray:
    b = _local(backend)
    texts = [b.render(r.messages, "") for r in requests]
    return gate.flags(b.model, b.tokenizer, texts)


@dataclass(frozen=True)
class SteerDefense:
    vector: SteeringVector
    strength: float = DEFAULT_STRENGTH
    name: str = "steer"

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "strength": self.strength,
            "layers": list(self.vector.layers),
            "vector": self.vector.metadata.get("dataset", ""),
        }

    def apply(self, backend: Backend, requests: Sequence[Request]) -> list[Request]:
        _local(backend)
        return [replace(r, edit=self.vector, edit_scale=self.strength) for r in requests]


@dataclass(frozen=True)
class EqualizerDefense:
    """Every row steered by one equalizer (its channels in any mode: add, ablate, clamp).
    Ablate and clamp need per-position hooks: a transformers model."""

    equalizer: Equalizer
    name: str = "steer"

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "channels": {c.name: str(c.setting) for c in self.equalizer.channels},
            # the vectors themselves: rows steered by another vector are another run
            "vectors": {c.name: c.vector.digest() for c in self.equalizer.channels},
            "layers": sorted({n for c in self.equalizer.channels for n in c.active_layers()}),
        }

    def apply(self, backend: Backend, requests: Sequence[Request]) -> list[Request]:
        _local(backend)
        require_hooks(backend, [c.setting for c in self.equalizer.channels])
        return [replace(r, edit=self.equalizer, edit_scale=1.0) for r in requests]


@dataclass(frozen=True)
class GatedSteerDefense:
    vector: SteeringVector
    gate: Gate
    strength: float = DEFAULT_STRENGTH
    name: str = "gated-steer"

    def describe(self) -> dict[str, Any]:
        d = SteerDefense(self.vector, self.strength).describe()
        return {
            **d,
            "name": self.name,
            "gate_layer": self.gate.layer,
            "threshold": self.gate.threshold,
        }

    def apply(self, backend: Backend, requests: Sequence[Request]) -> list[Request]:
        flags = _gate_flags(self.gate, backend, requests)
        return [
            replace(r, edit=self.vector, edit_scale=self.strength if f else 0.0)
            for r, f in zip(requests, flags, strict=True)
        ]


@dataclass(frozen=True)
class GatedPrefixDefense:
    gate: Gate
    prefix: str = GATED_PREFIX
    name: str = "gated-prefix"

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "prefix": self.prefix,
            "gate_layer": self.gate.layer,
            "threshold": self.gate.threshold,
        }

    def apply(self, backend: Backend, requests: Sequence[Request]) -> list[Request]:
        flags = _gate_flags(self.gate, backend, requests)
        return [
            place_prefix(r, self.prefix, backend.prefill_mode) if fires else r
            for r, fires in zip(requests, flags, strict=True)
        ]


@dataclass(frozen=True)
class Fitted:
    vector: SteeringVector  # refusal direction on the steering layers
    gate: Gate


def _render_all(backend, tasks) -> list[str]:
    from neutrophil.models.base import user_message

    return [backend.render(user_message(t.prompt, t.system), "") for t in tasks]


def fit(backend: Backend, steer_layers: Sequence[int] | None = None) -> Fitted:
    """Fit the refusal direction and the gate on the built-in chat train/val splits."""
    from neutrophil.internals.capture import capture
    from neutrophil.internals.directions import mean_diff
    from neutrophil.internals.extract import dataset_hash
    from neutrophil.internals.layers import num_layers
    from neutrophil.internals.probes import auroc
    from neutrophil.internals.strength import calibrate, default_layers, residual_norms
    from neutrophil.tasks import load_tasks

    b = _local(backend)
    train = load_tasks("builtin:chat", split="train")
    val = load_tasks("builtin:chat", split="val")
    tr_texts, va_texts = _render_all(b, train), _render_all(b, val)
    tr = capture(b.model, b.tokenizer, tr_texts)
    va = capture(b.model, b.tokenizer, va_texts, layers=tr.layers)
    ytr = np.array([t.kind == "harmful" for t in train])
    yva = np.array([t.kind == "harmful" for t in val])
    pos, neg = tr.acts[torch.from_numpy(ytr)], tr.acts[torch.from_numpy(~ytr)]
    dirs = mean_diff(pos, neg)
    n = num_layers(b.model)
    layers = tuple(steer_layers) if steer_layers else default_layers(n)
    meta = {
        "model": b.name,
        "method": "mean",
        "concept": "refusal",
        "dataset": dataset_hash(tr_texts),
    }
    raw = SteeringVector({layer: dirs[tr.layers.index(layer)] for layer in layers}, meta)
    vector = calibrate(raw, residual_norms(b.model, b.tokenizer, layers), layers)
    best: tuple[float, Gate] | None = None
    for i, layer in enumerate(tr.layers):
        g = Gate.fit_acts(pos[:, i], neg[:, i], layer)
        score = auroc(g.scores_from_acts(va.acts[:, i]), yva.astype(int))
        if best is None or score > best[0]:
            best = (score, g)
    assert best is not None
    return Fitted(vector, best[1])


def default_for(
    backend: Backend, steer_layers: Sequence[int] | None = None, refresh: bool = False
) -> Fitted:
    """`fit`, cached per model and task-data version."""
    from neutrophil.internals.extract import dataset_hash
    from neutrophil.internals.library import model_cache
    from neutrophil.tasks.load import builtin_path

    # "v2": calibrated strength units (older caches held raw mean differences).
    text = builtin_path("chat").read_text(encoding="utf-8")
    key = dataset_hash([text, str(steer_layers), "v2"])
    root = model_cache(_local(backend).fingerprint) / "steering" / key
    vpath, gpath = root / "refusal.safetensors", root / "gate.json"
    if vpath.exists() and gpath.exists() and not refresh:
        return Fitted(SteeringVector.load(vpath), Gate.load(gpath))
    fitted = fit(backend, steer_layers)
    root.mkdir(parents=True, exist_ok=True)
    fitted.vector.save(vpath)
    fitted.gate.save(gpath)
    return fitted


def build_local_defense(
    name: str,
    *,
    backend: Backend,
    prefix: str | None = None,
    system: str | None = None,
    options: dict[str, str],
):
    """`--defense steer|gated-steer|gated-prefix`; options: strength (calibrated units),
    layers, threshold, vector (concept name or file), probe (a gate .json file)."""
    from neutrophil.internals.layers import parse_layer_spec
    from neutrophil.internals.library import calibrated_vector

    try:
        strength = float(options.get("strength", DEFAULT_STRENGTH))
        threshold = float(options["threshold"]) if "threshold" in options else None
    except ValueError:
        raise UserError("--defense options: strength and threshold must be numbers") from None
    layers = parse_layer_spec(options["layers"]) if "layers" in options else None
    fitted = default_for(backend, layers)
    vector = fitted.vector
    if "vector" in options:
        vector = calibrated_vector(backend, options["vector"], layers)
    gate = Gate.load(options["probe"]) if "probe" in options else fitted.gate
    gate = gate if threshold is None else gate.with_threshold(threshold)
    if name == "steer":
        d: Any = SteerDefense(vector, strength)
    elif name == "gated-steer":
        d = GatedSteerDefense(vector, gate, strength)
    elif name == "gated-prefix":
        d = GatedPrefixDefense(gate, prefix or GATED_PREFIX)
    else:
        raise UserError(f"--defense {name}: not a steering defense")
    if system:  # a system guard composes with any of them
        return _WithSystem(d, PromptDefense(name="system", system=system))
    return d


@dataclass(frozen=True)
class _WithSystem:
    inner: Any
    guard: PromptDefense

    @property
    def name(self) -> str:
        return self.inner.name

    def describe(self) -> dict[str, Any]:
        return {**self.inner.describe(), "system": self.guard.system}

    def apply(self, backend: Backend, requests: Sequence[Request]) -> list[Request]:
        return self.inner.apply(backend, self.guard.apply(backend, requests))
