"""Paired comparisons: two conditions (defenses, lab stages) judged on the same tasks.

Two defenses on one model agree on most tasks, so their rates move together; comparing
their Wilson intervals side by side throws that away and calls real differences noise.
Pairing task by task keeps it:

- the difference of the two rates with the Agresti–Min interval (a half count added to
  each cell of the 2x2 table; Agresti & Min 2005), well-behaved at small n and at 0/100%;
- McNemar's exact test: under "no difference" the discordant tasks split like fair coin
  flips, so the two-sided p-value is a binomial tail.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from neutrophil.metrics import Z95, Rate, rate_from_dict, wilson
from neutrophil.records import Transcript, Verdict


def agresti_min(only_a: int, only_b: int, n: int) -> tuple[float, float]:
    """(estimate, variance) of P(a) − P(b) from a paired 2x2 table with `only_a` / `only_b`
    discordant pairs out of `n`, each cell given half a count."""
    if n == 0:
        return 0.0, 0.0
    a, b, m = only_a + 0.5, only_b + 0.5, n + 2
    diff = a - b
    return diff / m, (a + b - diff * diff / m) / (m * m)


def mcnemar_exact(only_a: int, only_b: int) -> float:
    """Two-sided exact McNemar p-value (1.0 when no pair is discordant)."""
    d = only_a + only_b
    if d == 0:
        return 1.0
    k = min(only_a, only_b)
    tail = sum(math.comb(d, i) for i in range(k + 1)) / 2.0**d
    return min(1.0, 2.0 * tail)


@dataclass(frozen=True)
class PairedDiff:
    """Rate of condition a minus rate of condition b on the same n tasks."""

    n: int
    a: Rate
    b: Rate
    diff: float
    lo: float
    hi: float
    only_a: int  # tasks where the outcome holds under a only
    only_b: int
    p_value: float

    @property
    def significant(self) -> bool:
        return self.n > 0 and self.p_value < 0.05

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "diff": round(self.diff, 4),
            "lo": round(self.lo, 4),
            "hi": round(self.hi, 4),
            "only_a": self.only_a,
            "only_b": self.only_b,
            "mcnemar_p": round(self.p_value, 6),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PairedDiff:
        """Back from `to_dict` (rounded as written), e.g. to render a saved study."""
        return cls(
            n=d["n"],
            a=rate_from_dict(d["a"]),
            b=rate_from_dict(d["b"]),
            diff=d["diff"],
            lo=d["lo"],
            hi=d["hi"],
            only_a=d["only_a"],
            only_b=d["only_b"],
            p_value=d["mcnemar_p"],
        )

    def __str__(self) -> str:
        if self.n == 0:
            return "n/a"
        star = "*" if self.significant else ""
        # to_dict keeps 6 decimals: a smaller p reads back as 0, which it is not
        p = "p<1e-6" if self.p_value < 1e-6 else f"p={self.p_value:.3g}"
        return (
            f"{100 * self.diff:+.1f} pts [{100 * self.lo:+.1f}, {100 * self.hi:+.1f}], "
            f"{p}{star} (n={self.n})"
        )


def paired(pairs: Sequence[tuple[bool, bool]], z: float = Z95) -> PairedDiff:
    n = len(pairs)
    only_a = sum(a and not b for a, b in pairs)
    only_b = sum(b and not a for a, b in pairs)
    est, var = agresti_min(only_a, only_b, n)
    # The point estimate is the plain difference; the interval is Agresti–Min's.
    diff = (only_a - only_b) / n if n else 0.0
    half = z * math.sqrt(var)
    return PairedDiff(
        n=n,
        a=wilson(sum(a for a, _ in pairs), n),
        b=wilson(sum(b for _, b in pairs), n),
        diff=diff,
        lo=max(-1.0, est - half),
        hi=min(1.0, est + half),
        only_a=only_a,
        only_b=only_b,
        p_value=mcnemar_exact(only_a, only_b),
    )


# Which tasks each rate is read on, and the outcome counted (the definitions of metrics.py).
OUTCOMES: dict[str, tuple[Callable[[Transcript], bool], Callable[[Verdict], bool]]] = {
    "refusal_rate": (lambda t: t.kind == "harmful", lambda v: v.refused),
    "attack_success_rate": (lambda t: t.kind == "harmful", lambda v: bool(v.harmful_done)),
    "success_rate": (lambda t: t.kind == "benign", lambda v: bool(v.success)),
    "over_refusal_rate": (lambda t: t.kind == "benign", lambda v: v.refused),
    "fluency_rate": (
        lambda t: t.kind == "benign" and t.verdict is not None and t.verdict.fluent is not None,
        lambda v: bool(v.fluent),
    ),
}


def compare(a: Sequence[Transcript], b: Sequence[Transcript]) -> dict[str, PairedDiff]:
    """Every rate of `a` minus `b`, on the tasks both judged (matched by task id)."""
    by_id = {t.task_id: t for t in b if t.verdict is not None}
    both = [(t, by_id[t.task_id]) for t in a if t.verdict is not None and t.task_id in by_id]
    out = {}
    for name, (counts, outcome) in OUTCOMES.items():
        pairs = [(outcome(x.verdict), outcome(y.verdict)) for x, y in both if counts(x)]
        out[name] = paired(pairs)
    return out


def compare_dict(a: Sequence[Transcript], b: Sequence[Transcript]) -> dict[str, Any]:
    return {k: d.to_dict() for k, d in compare(a, b).items()}
