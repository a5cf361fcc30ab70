"""The PING loop: propose → race on the selection tasks → feed the scores back, R rounds.

Round r's candidates are written to the store before they are evaluated, and every verdict
as it is judged, so rerunning on the same store replays finished work from disk and picks
up where a killed run stopped, reaching the same best prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from tqdm.auto import tqdm

from neutrophil.records import Verdict
from neutrophil.search.evaluate import Evaluator, prefix_defense
from neutrophil.search.objective import Objective, tally
from neutrophil.search.proposers.base import Feedback, Proposer, Scored
from neutrophil.search.racing import RacingConfig, race
from neutrophil.tasks.task import Task


@dataclass(frozen=True)
class SearchConfig:
    rounds: int = 5
    candidates: int = 5
    seed: int = 0
    objective: Objective = field(default_factory=Objective)
    racing: RacingConfig = field(default_factory=RacingConfig)
    top_k: int = 3
    explore_below: float = 0.5


@dataclass
class SearchResult:
    best: Scored | None  # None when no candidate was ever scored on every task
    baseline: Scored  # the undefended agent on the selection tasks
    history: list[dict[str, Any]]  # one row per (round, candidate)
    objective: Objective  # with baseline_sr filled in (constrained mode)
    notes: list[str]

    @property
    def best_prefix(self) -> str:
        return self.best.prefix if self.best else ""


def _verdict_fn(
    evaluator: Evaluator,
) -> Callable[[Sequence[str], Sequence[Task]], list[dict[str, Verdict]]]:
    def evaluate(cands: Sequence[str], tasks: Sequence[Task]) -> list[dict[str, Verdict]]:
        rows = evaluator.evaluate([prefix_defense(c) for c in cands], tasks, desc="race")
        return [{tid: sv.verdict for tid, sv in row.items()} for row in rows]

    return evaluate


def _pick(history: Sequence[Scored]) -> Scored | None:
    complete = [s for s in history if s.complete]
    if not complete:
        return None
    # Ties go to the earlier round, then the earlier candidate: deterministic.
    return max(complete, key=lambda s: s.score)


def run_search(
    evaluator: Evaluator,
    tasks: Sequence[Task],
    proposer: Proposer,
    config: SearchConfig = SearchConfig(),
    *,
    progress: bool = False,
) -> SearchResult:
    if not tasks:
        raise ValueError("run_search needs selection tasks")
    store = evaluator.store
    evaluate = _verdict_fn(evaluator)
    undefended = evaluate([""], tasks)[0]
    base_counts = tally((t.kind, t.borderline, undefended[t.id]) for t in tasks)
    objective = config.objective
    if objective.needs_baseline and objective.baseline_sr is None:
        objective = replace(objective, baseline_sr=base_counts.rates()[0])
    sr, rr, ov = base_counts.rates()
    baseline = Scored("", -1, sr, rr, ov, objective.score(base_counts), base_counts.n, True)

    scored: list[Scored] = []
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    bar = tqdm(range(config.rounds), desc="rounds", unit="round", disable=not progress)
    for r in bar:
        stored = store.round(r)
        if stored is not None:
            cands = list(stored["candidates"])
        else:
            fb = Feedback(
                round=r,
                history=tuple(scored),
                objective=objective.describe(),
                best_possible=objective.best_possible,
                top_k=config.top_k,
                explore_below=config.explore_below,
            )
            proposal = proposer.propose(fb, config.candidates)
            cands = list(dict.fromkeys(proposal.candidates))
            store.add_round(r, cands, proposal.notes)
            notes.extend(f"round {r}: {n}" for n in proposal.notes)
        if not cands:
            continue
        incumbent = _pick(scored)
        pool = cands + ([incumbent.prefix] if incumbent and incumbent.prefix not in cands else [])
        result = race(pool, tasks, evaluate, objective, config.racing, seed=config.seed)
        for st in result.standings:
            if st.candidate not in cands:
                continue
            s_sr, s_rr, s_ov = st.counts.rates()
            complete = st.counts.n == len(tasks)
            s = Scored(st.candidate, r, s_sr, s_rr, s_ov, st.score, st.counts.n, complete)
            scored.append(s)
            rows.append(
                asdict(s)
                | {
                    "lo": round(st.lo, 4),
                    "hi": round(st.hi, 4),
                    "dropped_at": st.dropped_at,
                    "feasible": objective.feasible(s_sr),
                }
            )
        best = _pick(scored)
        if best is not None:
            bar.set_postfix(best=f"{best.score:.2f}", sr=f"{best.sr:.2f}", rr=f"{best.rr:.2f}")
    best = _pick(scored)
    for row in rows:
        row["best"] = (
            best is not None and row["prefix"] == best.prefix and row["round"] == best.round
        )
    return SearchResult(best, baseline, rows, objective, notes)
