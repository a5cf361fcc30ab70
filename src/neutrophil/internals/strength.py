"""Slider units that mean the same on every model: calibrate a vector to the residual stream.

A raw extracted direction has whatever length the data gave it (a mean difference of two
sets of texts is often a third of the residual norm), and adding it at each of a dozen
layers compounds, so the same "strength 8" can be a nudge on one model and gibberish on
another. `calibrate` rescales every layer's direction to

    unit(direction[N]) * UNIT * residual_norm[N] / number_of_steered_layers

so that, whatever the layer range, strength s moves the residual stream by roughly
`s * UNIT` of its typical norm in total (the additions of successive layers accumulate in
the stream). `residual_norms` measures the typical norm per layer on a few fixed, neutral
chat prompts (median over tokens, skipping the first token, whose norm is an outlier in
many models). On SmolLM2-135M strength 2 (joy, anger) to 4 (refusal) changes the text visibly and
keeps it fluent; past about 5 it degrades into repetition.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from neutrophil.internals.vector import SteeringVector

UNIT = 0.15  # fraction of the residual norm that strength 1 adds, summed over layers

# Neutral requests for measuring the typical residual norm (no concept in them).
_NEUTRAL = (
    "Tell me about the history of bridges.",
    "How do I make a cup of tea?",
    "Summarise the plot of a detective story in two sentences.",
    "What is the capital of Australia?",
    "Give me three tips for learning a new language.",
    "Explain what a prime number is.",
)


def default_layers(n_layers: int) -> tuple[int, ...]:
    """The middle of the network (blocks n/3 .. 2n/3): where concept directions steer
    cleanly; early blocks still mix tokens, the last ones mostly pick the next token."""
    # Not layer 0 when avoidable (no llama.cpp slot for it, and too close to the tokens).
    lo = min(max(1, n_layers // 3), n_layers - 1)
    hi = max(lo, (2 * n_layers) // 3)
    return tuple(range(lo, hi + 1))


def residual_norms(
    model, tokenizer, layers: Sequence[int] | None = None, batch_size: int = 8
) -> dict[int, float]:
    """Typical L2 norm of each layer's block output on neutral chat prompts."""
    from neutrophil.internals.capture import capture_tokens
    from neutrophil.internals.render import chat_prompt

    texts = [chat_prompt(tokenizer, p) for p in _NEUTRAL]
    rows = capture_tokens(model, tokenizer, texts, layers=layers, batch_size=batch_size)
    norms = torch.cat([r.acts[1:].norm(dim=-1) for r in rows])  # [tokens, layers]
    med = norms.median(dim=0).values
    return {n: float(med[i]) for i, n in enumerate(rows[0].layers)}


def calibrate(
    vector: SteeringVector,
    norms: dict[int, float],
    layers: Sequence[int] | None = None,
    unit: float = UNIT,
) -> SteeringVector:
    """The vector on `layers` (default: all it has), in calibrated units (see module doc)."""
    keep = [n for n in (vector.layers if layers is None else layers) if n in vector.directions]
    if not keep:
        raise ValueError("the vector has none of the requested layers")
    missing = [n for n in keep if n not in norms]
    if missing:
        raise ValueError(f"no residual norm for layers {missing}")
    dirs = {}
    for n in keep:
        v = vector.directions[n]
        dirs[n] = v / v.norm().clamp_min(1e-12) * (unit * norms[n] / len(keep))
    meta = {**vector.metadata, "units": f"calibrated({unit:g} x residual norm, summed)"}
    return SteeringVector(dirs, meta)
