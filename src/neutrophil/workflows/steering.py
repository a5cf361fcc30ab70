"""`neutrophil vector extract` and `neutrophil steer` as functions.

- `extract(config, out)`: a steering vector from a built-in concept or a file of contrastive
  pairs, optionally calibrated to strength units, saved as OUT (safetensors).
- `steer(config)`: one prompt answered without and with an equalizer of vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from neutrophil.errors import UserError
from neutrophil.internals.equalizer import Setting
from neutrophil.internals.vector import SteeringVector
from neutrophil.models.base import Generation
from neutrophil.models.options import ModelOptions


@dataclass(frozen=True)
class ExtractConfig:
    """The options of `neutrophil vector extract` (a concept or a pairs file, not both)."""

    concept: str | None = None  # refusal, joy, anger, fear, calm, formality
    pairs: str | None = None  # JSON lines: positive, negative, optional prompt
    model: ModelOptions = field(default_factory=ModelOptions)
    method: str = "mean"  # mean, pca, pca-signed, probe
    layers: str | None = None  # e.g. "8-20" (None: every layer)
    calibrate: bool = False  # rescale to calibrated strength units


@dataclass(frozen=True)
class Extracted:
    vector: SteeringVector
    pairs: int  # contrastive pairs it was extracted from


def extract(config: ExtractConfig, out: Path | str) -> Extracted:
    """The vector, saved as `out` (checked writable before the model loads)."""
    from neutrophil.files import writable_file
    from neutrophil.internals.extract import extract_from_pairs
    from neutrophil.internals.layers import num_layers, parse_layer_spec
    from neutrophil.internals.pairs import concept_pairs, load_pairs
    from neutrophil.internals.strength import calibrate, default_layers, residual_norms
    from neutrophil.models.base import require_local

    if (config.concept is None) == (config.pairs is None):
        raise UserError("give a concept or a pairs file (one of them)")
    writable_file(out)
    pairs = concept_pairs(config.concept) if config.concept else load_pairs(config.pairs)
    if config.method.startswith("pca") and len(pairs) < 2:
        raise UserError("--method pca needs at least 2 pairs")
    # Extraction reads hidden states: transformers, whatever engine generates elsewhere.
    backend = require_local(config.model.load(), "extraction")
    layers = parse_layer_spec(config.layers) if config.layers else None
    try:
        vec = extract_from_pairs(
            backend.model, backend.tokenizer, pairs, method=config.method, layers=layers
        )
    except ValueError as e:
        raise UserError(f"--layers {config.layers}: {e}") from None
    meta = {**vec.metadata, "model": backend.name, "concept": config.concept or config.pairs}
    vec = SteeringVector(vec.directions, meta)
    if config.calibrate:
        keep = list(layers or default_layers(num_layers(backend.model)))
        vec = calibrate(vec, residual_norms(backend.model, backend.tokenizer, keep), keep)
    vec.save(out)
    return Extracted(vec, len(pairs))


@dataclass(frozen=True)
class SteerConfig:
    """The options of `neutrophil steer`."""

    prompt: str
    channels: Sequence[tuple[str, float | Setting]]  # (concept or vector file, setting)
    model: ModelOptions = field(default_factory=ModelOptions)
    layers: str | None = None  # steer only these layers (None: the middle third)
    raw: bool = False  # the stored vectors, unscaled
    method: str = "mean"  # for built-in concepts
    max_new_tokens: int = 80


@dataclass(frozen=True)
class Steered:
    plain: Generation
    steered: Generation
    mix: dict[str, Setting]  # channel name -> setting


def steer(config: SteerConfig) -> Steered:
    """The prompt's answer without and with the equalizer of `config.channels`."""
    from neutrophil.internals.equalizer import Channel, Equalizer, Setting, require_hooks
    from neutrophil.internals.layers import check_layers, num_layers, parse_layer_spec
    from neutrophil.internals.library import calibrated_vector, resolve_vector
    from neutrophil.internals.strength import residual_norms
    from neutrophil.models.base import Request, require_local, user_message

    settings = [
        (name, s if isinstance(s, Setting) else Setting("add", float(s)))
        for name, s in config.channels
    ]
    backend = config.model.load()
    require_hooks(backend, [s for _, s in settings])
    local = require_local(backend, "steering")
    layers = parse_layer_spec(config.layers) if config.layers else None
    check_layers(layers, num_layers(local.model))
    eq = Equalizer()
    norms = None if config.raw else residual_norms(local.model, local.tokenizer)
    for name, setting in settings:
        if config.raw:
            vec = resolve_vector(backend, name, config.method)
            if layers is not None:
                vec = vec.restricted(layers)
        else:
            vec = calibrated_vector(backend, name, layers, config.method, norms)
        if not vec.layers:
            raise UserError(f"--layers {config.layers}: vector {name} has none of these layers")
        vec.check_fits(local.model, name)
        eq = eq.with_channel(Channel(name, vec, setting.value, mode=setting.mode))
    msgs = user_message(config.prompt)
    budget = config.max_new_tokens
    plain, steered = backend.generate(
        [
            Request(msgs, max_new_tokens=budget),
            Request(msgs, max_new_tokens=budget, edit=eq, edit_scale=1.0),
        ]
    )
    return Steered(plain, steered, {c.name: c.setting for c in eq.channels})
