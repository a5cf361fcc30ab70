"""A cure at training time: agentic trajectories with safety examples mixed in.

`safety_mix(agentic, safety, fraction, out)` writes one JSON-lines training file: every
conversation of `agentic` plus refusals to harmful requests taken from `safety` (its rows
of kind "harmful", the same source as the lab's alignment stage) so that they make up
`fraction` of the rows, shuffled with a fixed seed. Refusals are reused in turn when the
mix asks for more than the source has.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from neutrophil.errors import UserError
from neutrophil.files import atomic_write
from neutrophil.training.dataset import builtin_data_path

SEED = 1234


def _rows(spec: str) -> list[dict]:
    path = builtin_data_path(spec.partition(":")[2]) if spec.startswith("builtin:") else Path(spec)
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def safety_mix(agentic: str, safety: str, fraction: float, out: Path) -> Path:
    if not 0 < fraction < 1:
        raise UserError(
            f"--safety-mix must be between 0 and 1 (a fraction of rows), got {fraction}"
        )
    trajectories = _rows(agentic)
    refusals = [r for r in _rows(safety) if r.get("kind") == "harmful"]
    if not refusals:
        raise UserError(f"{safety}: no rows of kind 'harmful' (refusals) to mix in")
    n = round(fraction / (1 - fraction) * len(trajectories))
    rng = random.Random(SEED)
    picked = rng.sample(refusals, len(refusals))
    mixed = trajectories + [picked[i % len(picked)] for i in range(n)]
    rng.shuffle(mixed)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in mixed))
    return out
