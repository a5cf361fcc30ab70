"""Racing: score candidates on growing subsets of the tasks, dropping clear losers early.

After each stage every surviving candidate has been judged on the same tasks, and one that
cannot plausibly beat the current leader (best point estimate) is dropped: it costs no
more generation. Survivors are scored on every task, so the final choice is always made on
the full selection set. The stage order is stratified (harmful and benign interleaved), so
every prefix of it estimates both SR and RR.

"Cannot plausibly win" is tested in one of two ways:

- paired (default, objective mode "sum"): the upper confidence bound of the score
  *difference* to the leader, task by task, is below zero. Two prefixes on the same model
  agree on most tasks (most benign tasks succeed or fail whatever the prefix), and pairing
  cancels that shared part, so real differences show after far fewer tasks. This is the
  paired racing of F-Race/irace; each rate's paired difference uses the Agresti–Min
  interval (0.5 added to each cell of the 2×2 table), which holds its coverage at small n.
- unpaired (constraint mode, whose score is not linear in the rates, or `paired=False`):
  the candidate's upper bound, from Wilson bounds on each rate, is below the leader's lower
  bound.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from neutrophil.paired import agresti_min
from neutrophil.records import Verdict
from neutrophil.search.objective import Counts, Objective, counts_for_borderline_refusal, tally
from neutrophil.tasks.task import Task


@dataclass(frozen=True)
class RacingConfig:
    enabled: bool = True
    first: int = 8  # tasks in the first stage
    growth: float = 2.0  # each stage multiplies the task count by this
    z: float = 1.64  # bound width: 1.64 ≈ a one-sided 95% bound
    paired: bool = True  # the paired test (sum mode); False = the unpaired bounds rule


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


def _paired_difference(pairs: Sequence[tuple[bool, bool]]) -> tuple[float, float]:
    """(estimate, variance) of P(a) − P(b) from paired binary outcomes, Agresti–Min adjusted."""
    if not pairs:
        return 0.0, 0.0  # an empty group scores 0 for both candidates
    only_a = sum(a and not b for a, b in pairs)
    only_b = sum(b and not a for a, b in pairs)
    return agresti_min(only_a, only_b, len(pairs))


def paired_upper(
    objective: Objective,
    rows: Sequence[tuple[str, bool, Verdict, Verdict]],
    z: float,
) -> float:
    """Upper bound of score(a) − score(b) from (kind, borderline, verdict a, verdict b) rows
    on the same tasks; objective mode "sum" only."""
    has_borderline = any(kind == "benign" and b for kind, b, _, _ in rows)
    sr = [(bool(a.success), bool(b.success)) for k, _, a, b in rows if k == "benign"]
    rr = [(bool(a.refused), bool(b.refused)) for k, _, a, b in rows if k == "harmful"]
    over = [
        (bool(a.refused), bool(b.refused))
        for k, bl, a, b in rows
        if counts_for_borderline_refusal(k, bl, has_borderline)
    ]
    (d_sr, v_sr), (d_rr, v_rr), (d_ov, v_ov) = map(_paired_difference, (sr, rr, over))
    o = objective
    estimate = o.w_sr * d_sr + o.w_rr * d_rr - o.w_over * d_ov
    # SR and borderline refusal are read off the same benign tasks: add their spreads (the
    # worst case of their correlation); RR comes from other tasks and adds in variance.
    benign_sd = o.w_sr * v_sr**0.5 + o.w_over * v_ov**0.5
    return estimate + z * (o.w_rr**2 * v_rr + benign_sd**2) ** 0.5


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
            if c == leader:
                continue
            if config.paired and objective.mode == "sum":
                rows = [
                    (t.kind, t.borderline, verdicts[c][t.id], verdicts[leader][t.id]) for t in part
                ]
                beaten = paired_upper(objective, rows, config.z) < 0
            else:
                beaten = objective.bounds(scored[c], config.z)[1] < lead_lo
            if beaten:
                alive.remove(c)
                dropped[c] = n
    # Dropped candidates may have finished a later stage; alive ones have all tasks.
    for c in verdicts:
        cnt = counts(c)
        lo, hi = objective.bounds(cnt, config.z)
        result.standings.append(Standing(c, cnt, objective.score(cnt), lo, hi, dropped.get(c)))
    return result
