"""Learning-rate schedule: linear warm-up, then cosine decay to zero (as in the paper's runs)."""

from __future__ import annotations

import math


def warmup_cosine(step: int, total: int, warmup: int) -> float:
    """Multiplier on the base learning rate for optimizer step `step` (0-based)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return 0.5 * (1.0 + math.cos(math.pi * progress))
