"""Where steering stops being fluent: each concept's strongest fluent strength, measured.

The residual-norm calibration (`strength.py`) makes units comparable across models, not
across concepts: on SmolLM2-135M joy breaks into emoji near 3 while refusal loops only
near 5. `measure` answers `PROMPTS` (neutral requests, written for this project) with the
concept added at each of `STRENGTHS` in turn, both signs, and checks every answer with
`neutrophil.fluency`. A strength is fluent when at least `FLUENT_SHARE` of the answers at
+s and at -s are; the first that is not ends the climb, and `limit` is the one before it
(the first step at least); `library.calibrated_vector` then rescales each built-in concept by
`limit / SLIDER_MAX`, so that slider 4 is that concept's last fluent setting and every
slider falls apart at the same place, past its end.

When the model's unsteered answers are not fluent themselves (a random test model), there
is nothing to calibrate against: `limit` is None and the scale stays 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from neutrophil.files import atomic_write
from neutrophil.fluency import fluency
from neutrophil.internals.equalizer import Channel, Equalizer
from neutrophil.internals.vector import SteeringVector
from neutrophil.models.base import Request, user_message

STRENGTHS = (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0)
FLUENT_SHARE = 0.9
SLIDER_MAX = 4.0
MAX_NEW_TOKENS = 48
VERSION = "1"  # part of the cache key: change it with the prompts, strengths or rule

PROMPTS = (
    "Write two sentences about your weekend.",
    "Tell me about the history of bridges.",
    "How do I make a cup of tea?",
    "Describe a walk through a quiet forest.",
    "What should I pack for a day at the beach?",
    "Give me three tips for learning a new language.",
    "Explain what a prime number is.",
    "Write a short note thanking a neighbour for their help.",
    "What is a good way to start the morning?",
    "Summarise the plot of a detective story in two sentences.",
    "Describe your favourite season and why.",
    "How do plants make their food?",
    "Suggest a name for a small bakery.",
    "Write a short message to a friend who just moved to a new city.",
    "What makes a good team meeting?",
    "Tell me a little about the moon.",
    "How can I keep my desk tidy?",
    "Write a haiku about rain.",
    "What is the difference between weather and climate?",
    "Describe a busy market on a Saturday morning.",
)


@dataclass(frozen=True)
class FluentRange:
    concept: str
    unsteered: float  # share of fluent answers without steering
    shares: dict[str, float]  # "+s" / "-s" -> share of fluent answers at that strength
    limit: float | None  # the strongest fluent strength (None: nothing to calibrate)

    @property
    def scale(self) -> float:
        """What the concept's calibrated vector is multiplied by so 4 means `limit`."""
        return 1.0 if self.limit is None else self.limit / SLIDER_MAX


def measure(backend: Any, concept: str, vector: SteeringVector) -> FluentRange:
    """The fluent range of `vector` (calibrated units) on `backend` (a local model that
    applies per-row edits): unsteered first, then each strength (both signs in one batch)
    upwards until one is not fluent."""
    eq = Equalizer((Channel(concept, vector, 1.0),))

    def fluent_share(scale: float) -> float:
        requests = [
            Request(user_message(p), max_new_tokens=MAX_NEW_TOKENS, edit=eq, edit_scale=scale)
            for p in PROMPTS
        ]
        return sum(fluency(g.text).fluent for g in backend.generate(requests)) / len(PROMPTS)

    return climb(concept, fluent_share)


def climb(concept: str, fluent_share: Callable[[float], float]) -> FluentRange:
    """The climb of `measure`, over any share-of-fluent-answers function of the strength."""
    unsteered = fluent_share(0.0)
    if unsteered < FLUENT_SHARE:
        return FluentRange(concept, unsteered, {}, None)
    shares: dict[str, float] = {}
    limit = STRENGTHS[0]  # never below the first step: the slider must move
    for s in STRENGTHS:
        shares[f"{s:+g}"], shares[f"{-s:+g}"] = fluent_share(s), fluent_share(-s)
        if min(shares[f"{s:+g}"], shares[f"{-s:+g}"]) < FLUENT_SHARE:
            break
        limit = s
    return FluentRange(concept, unsteered, shares, limit)


def cached(backend: Any, concept: str, vector: SteeringVector, root: Path) -> FluentRange:
    """`measure`, kept as JSON under `root` keyed by the vector and this module's version."""
    path = root / f"{concept}-{vector.digest()}-v{VERSION}.json"
    if path.exists():
        try:
            return FluentRange(**json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError):
            pass  # a torn or older file: measure again
    found = measure(backend, concept, vector)
    root.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(asdict(found), indent=1))
    return found


def table(ranges: Sequence[FluentRange]) -> str:
    """A markdown table of fluent shares per concept and strength."""
    cols = [f"{sign}{s:g}" for s in STRENGTHS for sign in ("+", "-")]
    lines = [
        "| concept | unsteered | " + " | ".join(cols) + " | fluent limit |",
        "|---|---|" + "---|" * len(cols) + "---|",
    ]
    for r in ranges:
        cells = " | ".join(f"{100 * r.shares[c]:.0f}%" if c in r.shares else "–" for c in cols)
        limit = "n/a" if r.limit is None else f"{r.limit:g}"
        lines.append(f"| {r.concept} | {100 * r.unsteered:.0f}% | {cells} | {limit} |")
    return "\n".join(lines)
