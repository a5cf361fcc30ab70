"""Racing: score candidates on growing subsets of the tasks, dropping clear losers early.

After each stage every surviving candidate has been judged on the same tasks. A candidate
whose upper confidence bound on the objective falls below the lower bound of the current
leader (best point estimate) cannot plausibly win and is dropped: it costs no more
generation. Survivors are scored on every task, so the final choice is always made on the
full selection set. The stage order is stratified (harmful and benign interleaved), so
every prefix of it estimates both SR and RR.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from neutrophil.records import Verdict
from neutrophil.search.objective import Counts, Objective, tally
from neutrophil.tasks.task import Task


@dataclass(frozen=True)
class RacingConfig:
    enabled: bool = True
    first: int = 8  # tasks in the first stage
    growth: float = 2.0  # each stage multiplies the task count by this
    z: float = 1.0  # width of the per-rate Wilson bounds (1.0 ≈ 68% two-sided)


@dataclass(frozen=True)
class Standing:
    candidate: str
    counts: Counts
    score: float
    lo: float
    hi: float
    dropped_at: int | None  # tasks seen when dropped; None = survived every stage


@dataclass
class RaceResult:
    standings: list[Standing]
    stages: list[int] = field(default_factory=list)  # task counts of the stages run


def stratified_order(tasks: Sequence[Task], seed: int) -> list[Task]:
    """A seeded shuffle that alternates harmful and benign tasks (and keeps borderline
    benign tasks spread out), so every prefix of the order is balanced."""
    rng = random.Random(f"race:{seed}")
    groups: dict[tuple[str, bool], list[Task]] = {}
    for t in sorted(tasks, key=lambda t: t.id):
        groups.setdefault((t.kind, t.borderline), []).append(t)
    for g in groups.values():
        rng.shuffle(g)
    keys = sorted(groups)
    sizes = {k: len(groups[k]) for k in keys}
    out: list[Task] = []
    taken = dict.fromkeys(keys, 0)
    # Take from whichever group is furthest behind its share of the total.
    while len(out) < len(tasks):
        k = min(
            (k for k in keys if taken[k] < sizes[k]),
            key=lambda k: ((taken[k] + 0.5) / sizes[k], k),
        )
        out.append(groups[k][taken[k]])
        taken[k] += 1
    return out


def stage_sizes(n: int, config: RacingConfig) -> list[int]:
    if not config.enabled or n <= config.first:
        return [n]
    sizes = []
    k = float(config.first)
    while int(k) < n:
        sizes.append(int(k))
        k *= config.growth
    return sizes + [n]


Evaluate = Callable[[Sequence[str], Sequence[Task]], list[dict[str, Verdict]]]


def race(
    candidates: Sequence[str],
    tasks: Sequence[Task],
    evaluate: Evaluate,
    objective: Objective,
    config: RacingConfig = RacingConfig(),
    *,
    seed: int = 0,
) -> RaceResult:
    """Race `candidates` on `tasks`; `evaluate(cands, tasks)` returns verdicts by task id."""
    order = stratified_order(tasks, seed)
    alive = list(dict.fromkeys(candidates))
    verdicts: dict[str, dict[str, Verdict]] = {c: {} for c in alive}
    dropped: dict[str, int] = {}
    result = RaceResult([])

    def counts(c: str) -> Counts:
        v = verdicts[c]
        return tally((t.kind, t.borderline, v[t.id]) for t in order if t.id in v)

    for n in stage_sizes(len(order), config):
        result.stages.append(n)
        part = order[:n]
        for c, got in zip(alive, evaluate(alive, part), strict=True):
            verdicts[c].update(got)
        if n == len(order) or len(alive) < 2:
            continue
        scored = {c: counts(c) for c in alive}
        leader = max(alive, key=lambda c: (objective.score(scored[c]), -alive.index(c)))
        lead_lo, _ = objective.bounds(scored[leader], config.z)
        for c in list(alive):
            if c != leader and objective.bounds(scored[c], config.z)[1] < lead_lo:
                alive.remove(c)
                dropped[c] = n
    # Dropped candidates may have finished a later stage; alive ones have all tasks.
    for c in verdicts:
        cnt = counts(c)
        lo, hi = objective.bounds(cnt, config.z)
        result.standings.append(Standing(c, cnt, objective.score(cnt), lo, hi, dropped.get(c)))
    return result
