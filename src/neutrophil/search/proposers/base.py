"""What a proposer sees (scored history, ranked three ways) and what it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Scored:
    """One candidate's result on the selection tasks."""

    prefix: str
    round: int
    sr: float
    rr: float
    borderline_refusal: float  # see search.objective.counts_for_borderline_refusal
    score: float
    n: int  # tasks it was judged on (fewer when racing dropped it)
    complete: bool  # judged on every selection task


@dataclass(frozen=True)
class Feedback:
    round: int
    history: tuple[Scored, ...]
    objective: str  # human-readable objective, for the meta-prompt
    best_possible: float
    top_k: int = 3
    explore_below: float = 0.5  # fraction of best_possible under which to explore

    def _rank(self, key) -> list[Scored]:
        seen: dict[str, Scored] = {}
        for s in self.history:
            if s.prefix and (s.prefix not in seen or s.n > seen[s.prefix].n):
                seen[s.prefix] = s
        return sorted(seen.values(), key=lambda s: (-key(s), -s.n, s.round, s.prefix))[: self.top_k]

    @property
    def top_combined(self) -> list[Scored]:
        return self._rank(lambda s: s.score)

    @property
    def top_sr(self) -> list[Scored]:
        return self._rank(lambda s: s.sr)

    @property
    def top_rr(self) -> list[Scored]:
        return self._rank(lambda s: s.rr)

    @property
    def best_score(self) -> float | None:
        scores = [s.score for s in self.history if s.prefix]
        return max(scores) if scores else None

    @property
    def explore(self) -> bool:
        """The exploration gate: nothing good yet, so ask for fresh directions."""
        best = self.best_score
        return best is None or best < self.explore_below * self.best_possible

    @property
    def tried(self) -> frozenset[str]:
        return frozenset(s.prefix for s in self.history)


@dataclass(frozen=True)
class Proposal:
    candidates: tuple[str, ...]
    notes: tuple[str, ...] = field(default=())  # why raw outputs were skipped, etc.


@runtime_checkable
class Proposer(Protocol):
    name: str

    def propose(self, feedback: Feedback, n: int) -> Proposal: ...
