"""Score defenses on tasks through the verdict store: nothing is generated twice.

Pairs (defense, task) already in the store are read back; the rest run in chunks of tasks,
every defense of a chunk in one merged generate call (search/rendezvous.py), and each
chunk's verdicts are persisted before the next starts.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tqdm.auto import tqdm

from neutrophil.agent import Agent, Budgets
from neutrophil.defenses.base import NO_DEFENSE, Defense, PromptDefense
from neutrophil.models.base import Backend
from neutrophil.runstore import RunKey, run_key
from neutrophil.search.rendezvous import run_together
from neutrophil.search.store import SearchStore, StoredVerdict
from neutrophil.tasks.task import Task


def prefix_defense(prefix: str) -> PromptDefense:
    """The defense a candidate prefix stands for ("" = no defense)."""
    return PromptDefense(name="prefix", prefix=prefix) if prefix else NO_DEFENSE


@dataclass
class EvalCost:
    rows: int = 0  # (defense, task) pairs generated
    cached: int = 0  # pairs read back from the store
    prompt_tokens: int = 0
    generated_tokens: int = 0
    seconds: float = 0.0


class _LockedJudge:
    """One judge shared by agent threads: lazy model loads must not race."""

    def __init__(self, judge) -> None:
        self._judge = judge
        self._lock = threading.Lock()
        self.name = getattr(judge, "name", "judge")

    def judge(self, prompts, responses):
        with self._lock:
            return self._judge.judge(prompts, responses)

    def decided(self, text: str) -> bool:
        return self._judge.decided(text)  # pure pattern code: no lock needed

    def __getattr__(self, name):
        return getattr(self._judge, name)


class Evaluator:
    def __init__(
        self,
        backend: Backend,
        store: SearchStore,
        *,
        judge=None,
        budgets: Budgets | None = None,
        early_stop: bool = True,
        merge: bool = True,
        chunk: int = 8,
        progress: bool = False,
    ) -> None:
        if judge is None:
            from neutrophil.judges import default_judge

            judge = default_judge()
        self.backend = backend
        self.store = store
        self.judge = _LockedJudge(judge)
        self.budgets = budgets or Budgets()
        self.early_stop = early_stop
        self.merge = merge
        self.chunk = chunk
        self.progress = progress
        self.cost = EvalCost()
        # Rows are reused only under this key: same model, engine, judge and budgets.
        self.key: RunKey = run_key(backend, judge, self.budgets, early_stop)

    @property
    def model(self) -> str:
        return self.backend.name

    def _agent(self, backend: Backend, defense: Defense) -> Agent:
        return Agent(
            backend, defense, judge=self.judge, budgets=self.budgets, early_stop=self.early_stop
        )

    def evaluate(
        self, defenses: Sequence[Defense], tasks: Sequence[Task], desc: str = "evaluate"
    ) -> list[dict[str, StoredVerdict]]:
        """Verdicts of every defense on every task: `out[i][task_id]`."""
        descs = [d.describe() for d in defenses]
        missing = [[t for t in tasks if self.store.get(self.key, dd, t) is None] for dd in descs]
        todo = sum(len(m) for m in missing)
        self.cost.cached += len(defenses) * len(tasks) - todo
        if todo:
            bar = tqdm(total=todo, desc=desc, unit="row", disable=not self.progress, leave=False)
            for start in range(0, len(tasks), self.chunk):
                ids = {t.id for t in tasks[start : start + self.chunk]}
                jobs = [
                    (d, [t for t in m if t.id in ids])
                    for d, m in zip(defenses, missing, strict=True)
                ]
                jobs = [(d, ts) for d, ts in jobs if ts]
                if jobs:
                    self._run(jobs)
                    bar.update(sum(len(ts) for _, ts in jobs))
            bar.close()
        out = []
        for dd in descs:
            row = {}
            for t in tasks:
                sv = self.store.get(self.key, dd, t)
                assert sv is not None, "every pair was generated above"
                row[t.id] = sv
            out.append(row)
        return out

    def _run(self, jobs: Sequence[tuple[Defense, list[Task]]]) -> None:
        t0 = time.perf_counter()
        if self.merge and len(jobs) > 1:
            results = run_together(
                self.backend,
                [lambda view, d=d, ts=ts: self._agent(view, d).run(ts) for d, ts in jobs],
            )
        else:
            results = [self._agent(self.backend, d).run(ts) for d, ts in jobs]
        self.cost.seconds += time.perf_counter() - t0
        for (_, ts), res in zip(jobs, results, strict=True):
            self.store.add_transcripts(self.key, ts, res.transcripts)
            self.cost.rows += len(res.transcripts)
            self.cost.prompt_tokens += res.cost.prompt_tokens
            self.cost.generated_tokens += res.cost.generated_tokens
