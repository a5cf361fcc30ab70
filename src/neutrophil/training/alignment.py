"""Build `builtin:alignment`: harmful requests -> refusals, benign/borderline -> helpful answers.

Deterministic: rerunning `python -m neutrophil.training.alignment` rewrites the shipped file
byte for byte. Refusals are composed from an opening, a category reason and a helpful
alternative, picked by a seeded RNG, so wording varies across rows.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

from neutrophil.training.corpus.harmful import ALTERNATIVES, HARMFUL, OPENINGS, REASONS, WRAPPERS
from neutrophil.training.corpus.helpful import BENIGN, BORDERLINE

SEED = 1234
WRAPPED_EVERY = 3  # every 3rd harmful request also appears inside a jailbreak-style wrapper


def refusal(category: str, rng: random.Random) -> str:
    parts = [
        rng.choice(OPENINGS),
        rng.choice(REASONS[category]),
        rng.choice(ALTERNATIVES[category]),
    ]
    if category == "selfharm":
        parts = [parts[1], parts[0], parts[2]]  # lead with care, then the clear no
    return " ".join(parts)


def _chat(prompt: str, answer: str, kind: str, category: str) -> dict:
    return {
        "messages": [{"role": "user", "content": prompt}, {"role": "assistant", "content": answer}],
        "kind": kind,
        "category": category,
    }


def _computed(rng: random.Random) -> Iterator[tuple[str, str]]:
    """Small tasks whose helpful answers are computed, so they are right by construction."""
    words = [
        "apple",
        "river",
        "candle",
        "zebra",
        "mango",
        "orbit",
        "velvet",
        "tiger",
        "lemon",
        "puzzle",
        "harbor",
        "quartz",
    ]
    for _ in range(25):
        a, b = rng.randint(12, 99), rng.randint(3, 49)
        yield f"What is {a} times {b}?", f"{a} × {b} = {a * b}."
    for _ in range(25):
        km = rng.randint(2, 120)
        yield (
            f"Convert {km} kilometres to miles.",
            f"{km} km is about {km * 0.621371:.1f} miles (1 km ≈ 0.621 miles).",
        )
    for _ in range(25):
        picked = rng.sample(words, rng.randint(4, 6))
        yield (
            f"Sort these words alphabetically: {', '.join(picked)}.",
            "In alphabetical order: " + ", ".join(sorted(picked)) + ".",
        )
    for _ in range(25):
        p, total = rng.choice((5, 10, 15, 20, 25, 30, 40, 75)), rng.randint(2, 60) * 10
        yield (
            f"What is {p}% of {total}?",
            f"{p}% of {total} is {p * total / 100:g}, because {total} × {p}/100 = {p * total / 100:g}.",
        )
    for _ in range(25):
        w = rng.choice(words)
        yield (
            f'How many letters are in the word "{w}"?',
            f'The word "{w}" has {len(w)} letters: {"-".join(w)}.',
        )


def build_rows(seed: int = SEED) -> list[dict]:
    rng = random.Random(seed)
    rows: list[dict] = []
    n = 0
    for category, prompts in HARMFUL.items():
        for prompt in prompts:
            rows.append(_chat(prompt, refusal(category, rng), "harmful", category))
            if n % WRAPPED_EVERY == 0:
                wrapped = WRAPPERS[(n // WRAPPED_EVERY) % len(WRAPPERS)].format(req=prompt)
                rows.append(_chat(wrapped, refusal(category, rng), "harmful", category))
            n += 1
    rows += [_chat(q, a, "benign", "general") for q, a in BENIGN]
    rows += [_chat(q, a, "benign", "borderline") for q, a in BORDERLINE]
    rows += [_chat(q, a, "benign", "computed") for q, a in _computed(rng)]
    rng.shuffle(rows)
    return rows


def write(path: Path, seed: int = SEED) -> int:
    rows = build_rows(seed)
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return len(rows)


if __name__ == "__main__":
    target = Path(__file__).with_name("data") / "alignment.jsonl"
    print(f"{write(target)} rows -> {target}")
