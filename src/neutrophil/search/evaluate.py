"""Score defenses on tasks through the verdict store: nothing is generated twice.

Pairs (defense, task) already in the store are read back; every new verdict is persisted
as soon as its row is judged. On a continuous-batching backend (llama.cpp) all missing
rows of all defenses share one running batch; on others they run in chunks of tasks,
every defense of a chunk in one merged generate call (search/rendezvous.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from tqdm.auto import tqdm

from neutrophil.agent import Agent, Budgets, RunResult
from neutrophil.defenses.base import NO_DEFENSE, Defense, PromptDefense
from neutrophil.models.base import Backend
from neutrophil.records import Transcript
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

    def refused_early(self, text: str) -> bool:
        return self._judge.refused_early(text)

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
            if self.backend.queues:
                # One running batch: every row at once, each stored as it ends, so no chunk
                # waits for its slowest row (a long code answer, an eight-step episode).
                self._run([(d, m) for d, m in zip(defenses, missing, strict=True) if m], bar)
            else:
                for start in range(0, len(tasks), self.chunk):
                    ids = {t.id for t in tasks[start : start + self.chunk]}
                    jobs = [
                        (d, [t for t in m if t.id in ids])
                        for d, m in zip(defenses, missing, strict=True)
                    ]
                    jobs = [(d, ts) for d, ts in jobs if ts]
                    if jobs:
                        self._run(jobs, bar)
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

    def _run(self, jobs: Sequence[tuple[Defense, list[Task]]], bar: tqdm) -> None:
        """Run (defense, tasks) jobs; each row is stored as soon as it is judged."""
        t0 = time.perf_counter()
        lock = threading.Lock()  # agents of a merged run end rows on their own threads

        def keep(tasks: list[Task]):
            by_id = {t.id: t for t in tasks}

            def on_done(tr: Transcript) -> None:
                with lock:
                    self.store.add_transcripts(self.key, [by_id[tr.task_id]], [tr])
                    bar.update(1)

            return on_done

        def job(view: Backend, d: Defense, ts: list[Task]) -> RunResult:
            return self._agent(view, d).run(ts, on_done=keep(ts))

        if self.merge and len(jobs) > 1:
            results = run_together(
                self.backend, [lambda view, d=d, ts=ts: job(view, d, ts) for d, ts in jobs]
            )
        else:
            results = [job(self.backend, d, ts) for d, ts in jobs]
        self.cost.seconds += time.perf_counter() - t0
        for res in results:
            self.cost.rows += len(res.transcripts)
            self.cost.prompt_tokens += res.cost.prompt_tokens
            self.cost.generated_tokens += res.cost.generated_tokens
