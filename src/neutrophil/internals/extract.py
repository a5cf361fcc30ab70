"""Extract a `SteeringVector` from contrastive pairs or from two prompt sets.

Activations are read at the last token of each text, in batched forward passes (one
`capture` call for positives and negatives together), then reduced by `directions`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from neutrophil.internals import directions
from neutrophil.internals.capture import capture
from neutrophil.internals.vector import SteeringVector


@dataclass(frozen=True)
class Pair:
    """A contrastive pair: the same user prompt, answered in two opposite ways."""

    positive: str
    negative: str
    prompt: str = ""  # user message; empty = the texts are used as they are


def dataset_hash(texts: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps(list(texts)).encode()).hexdigest()[:16]


def model_info(model) -> dict:
    cfg = getattr(model, "config", None)
    return {
        "model": getattr(cfg, "_name_or_path", "") or type(model).__name__,
        "model_type": getattr(cfg, "model_type", ""),
    }


def extract(
    model,
    tokenizer,
    positives: Sequence[str],
    negatives: Sequence[str],
    *,
    method: str = "mean",
    layers: Sequence[int] | None = None,
    batch_size: int = 16,
    pos_prompts: Sequence[str] | None = None,
    neg_prompts: Sequence[str] | None = None,
) -> SteeringVector:
    """Direction from `negatives` to `positives`, at each text's last token.

    With `pos_prompts`/`neg_prompts`, text i is the prompt i followed by the completion i.
    """
    prompts = list(pos_prompts or [""] * len(positives)) + list(
        neg_prompts or [""] * len(negatives)
    )
    texts = list(positives) + list(negatives)
    if not all(prompts):  # plain texts: the text is the whole "prompt"
        prompts, conts = texts, None
    else:
        conts = texts
    cap = capture(model, tokenizer, prompts, conts, layers=layers, batch_size=batch_size)
    pos, neg = cap.acts[: len(positives)], cap.acts[len(positives) :]
    dirs = directions.compute(method, pos, neg)
    meta = {
        **model_info(model),
        "method": method,
        "dataset": dataset_hash([*prompts, *(conts or [])]),
        "n_pos": len(positives),
        "n_neg": len(negatives),
    }
    return SteeringVector({layer: dirs[i] for i, layer in enumerate(cap.layers)}, meta)


def extract_from_pairs(
    model,
    tokenizer,
    pairs: Sequence[Pair],
    *,
    method: str = "mean",
    layers: Sequence[int] | None = None,
    batch_size: int = 16,
    system: str | None = None,
) -> SteeringVector:
    """Pairs with a `prompt` are rendered with the tokenizer's chat template first."""
    from neutrophil.internals.render import chat_prompt

    prompts = [chat_prompt(tokenizer, p.prompt, system) if p.prompt else "" for p in pairs]
    return extract(
        model,
        tokenizer,
        [p.positive for p in pairs],
        [p.negative for p in pairs],
        method=method,
        layers=layers,
        batch_size=batch_size,
        pos_prompts=prompts if all(prompts) else None,
        neg_prompts=prompts if all(prompts) else None,
    )
