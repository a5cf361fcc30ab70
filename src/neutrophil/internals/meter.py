"""The concept meter: each concept's component in the residual stream, token by token.

`read_concepts` runs the prompt and an answer through the model once (teacher-forced,
under whatever steering hooks the caller has entered, so a steered answer is read as it
was generated) and returns, at one layer, each channel's projection on its unit direction
for every answer token (channels without that layer are left out), in the channel's
clamp units (`Channel.unit`): a concept clamped
at 2 reads 2.0, and the numbers are comparable across concepts. It is the quantity a
vector gate thresholds (`Gate.from_vector_acts`: the projection on a concept direction).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from neutrophil.internals.capture import capture_tokens
from neutrophil.internals.equalizer import Channel


@dataclass(frozen=True)
class Reading:
    layer: int
    tokens: tuple[str, ...]  # the answer's tokens, as text
    values: dict[str, list[float]]  # channel name -> one value per answer token


def read_concepts(
    model, tokenizer, prompt: str, answer: str, channels: Sequence[Channel], layer: int
) -> Reading:
    rows = capture_tokens(model, tokenizer, [prompt], [answer], layers=[layer], batch_size=1)
    row = rows[0]
    acts = row.layer(layer)[row.prompt_len :].float()  # [answer tokens, hidden]
    values = {}
    for c in channels:
        if layer not in c.active_layers():
            continue  # a vector of other layers has no reading here
        d = c.vector.directions[layer]
        unit = d / d.norm().clamp_min(1e-12)
        values[c.name] = [round(float(v), 3) for v in (acts @ unit) / c.unit(layer)]
    ids = row.tokens[row.prompt_len :]
    tokens = tuple(tokenizer.decode([i]) for i in ids)
    return Reading(layer, tokens, values)
