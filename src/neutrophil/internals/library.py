"""Per-model cache of built-in concept vectors: extracted once, reused by CLI and defenses.

Files live under `<cache>/<model-name>/vectors/` (cache = `neutrophil.models.embedded.cache_dir()`).
"""

from __future__ import annotations

import re
from pathlib import Path

from neutrophil.internals.extract import extract_from_pairs
from neutrophil.internals.gguf_io import import_gguf
from neutrophil.internals.pairs import concept_names, concept_pairs
from neutrophil.internals.vector import SteeringVector


def model_cache(name: str) -> Path:
    from neutrophil.models.embedded import cache_dir

    return cache_dir() / re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def concept_vector(
    backend, concept: str, method: str = "mean", refresh: bool = False
) -> SteeringVector:
    """The built-in concept's vector for `backend` (HF backend: .model, .tokenizer, .name)."""
    # "-v2": `pca` became centred PCA (older "pca" files hold what is now `pca-signed`).
    from neutrophil.models.base import require_local

    backend = require_local(backend, "extracting a steering vector")
    name = f"{concept}-{method}{'-v2' if method == 'pca' else ''}.safetensors"
    path = model_cache(backend.fingerprint) / "vectors" / name
    if path.exists() and not refresh:
        return SteeringVector.load(path)
    vec = extract_from_pairs(
        backend.model, backend.tokenizer, concept_pairs(concept), method=method
    )
    vec = SteeringVector(
        vec.directions, {**vec.metadata, "concept": concept, "model": backend.name}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    vec.save(path)
    return vec


def resolve_vector(backend, spec: str, method: str = "mean") -> SteeringVector:
    """A concept name, a `.safetensors` vector file, or a llama.cpp `.gguf` control vector."""
    if spec in concept_names():
        return concept_vector(backend, spec, method)
    if spec.endswith(".gguf"):
        return import_gguf(spec)
    return SteeringVector.load(spec)


def calibrated_vector(
    backend,
    spec: str,
    layers=None,
    method: str = "mean",
    norms: dict[int, float] | None = None,
    *,
    fluent: bool = True,
) -> SteeringVector:
    """`resolve_vector`, restricted to `layers` (default: the middle third of the network,
    see `strength.default_layers`) and rescaled to calibrated strength units. A built-in
    concept is then rescaled so that 4 is its strongest fluent strength on this model
    (`fluent_range.py`; measured on first use, cached), unless `fluent` is False."""
    from neutrophil.errors import UserError
    from neutrophil.internals.layers import num_layers
    from neutrophil.internals.strength import calibrate, default_layers, residual_norms
    from neutrophil.models.base import require_local

    vec = resolve_vector(backend, spec, method)
    backend = require_local(backend, "calibrating a steering vector")
    want = tuple(layers) if layers else default_layers(num_layers(backend.model))
    keep = [n for n in want if n in vec.directions]
    if not keep:
        raise UserError(f"vector {spec}: has none of the layers {list(want)}")
    if norms is None:
        norms = residual_norms(backend.model, backend.tokenizer, keep)
    vec = calibrate(vec, norms, keep)
    if not fluent or spec not in concept_names():
        return vec
    from neutrophil.internals.fluent_range import SLIDER_MAX, cached

    found = cached(backend, spec, vec, model_cache(backend.fingerprint) / "fluent")
    meta = {**vec.metadata, "fluent_limit": found.limit, "fluent_at": SLIDER_MAX}
    return SteeringVector((vec * found.scale).directions, meta)
