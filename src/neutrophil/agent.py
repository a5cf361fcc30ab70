"""Run tasks through a backend and a defense, and judge them: `Task` -> `Transcript`.

What is particular to a task's domain (its request, stop rule, steps and verdict) lives
in `neutrophil.envs` behind the `Domain` protocol; the agent only batches. Every task's
first request is queued at once, and a multi-step episode (web) queues its next step as
soon as its last one is judged. On a backend that takes requests while it decodes
(llama.cpp's continuous batching) all of it shares one running batch; on others the
episodes advance in lock-step. Generation stops per row as soon as its domain says the
verdict is fixed, or at the domain's token budget.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from tqdm.auto import tqdm

from neutrophil.defenses.base import NO_DEFENSE, Defense
from neutrophil.envs.domain import Budgets, Domain, Episode, Outcome, Settings
from neutrophil.envs.registry import DOMAINS, check_tasks, domain_for
from neutrophil.judges.attacked import readable
from neutrophil.models.base import Backend, Generation, Request
from neutrophil.records import Transcript
from neutrophil.tasks.task import Task

if TYPE_CHECKING:
    from neutrophil.judges.refusal import Judge

__all__ = ["Agent", "Budgets", "Cost", "RunResult"]

DEFAULT_BUDGETS = Budgets()


@dataclass
class Cost:
    prompt_tokens: int = 0
    generated_tokens: int = 0
    seconds: float = 0.0

    def add(self, other: Cost) -> None:
        self.prompt_tokens += other.prompt_tokens
        self.generated_tokens += other.generated_tokens
        self.seconds += other.seconds

    def to_dict(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt_tokens,
            "generated_tokens": self.generated_tokens,
            "seconds": round(self.seconds, 2),
        }


@dataclass
class RunResult:
    transcripts: list[Transcript]
    cost: Cost = field(default_factory=Cost)


class Agent:
    """A backend plus a defense plus a refusal judge, run over tasks in batches."""

    def __init__(
        self,
        backend: Backend,
        defense: Defense = NO_DEFENSE,
        *,
        judge: Judge | None = None,
        budgets: Budgets = DEFAULT_BUDGETS,
        early_stop: bool = True,
        progress: bool = False,
        domains: Mapping[str, Domain] = DOMAINS,
    ) -> None:
        if judge is None:
            from neutrophil.judges import default_judge

            judge = default_judge()
        self.backend = backend
        self.defense = defense
        self.judge = judge
        self.budgets = budgets
        self.early_stop = early_stop
        self.progress = progress
        self.domains = domains  # domain name -> how its tasks run (neutrophil.envs.registry)

    def run(
        self, tasks: Sequence[Task], on_done: Callable[[Transcript], None] | None = None
    ) -> RunResult:
        """Transcripts of `tasks`, in order. `on_done` hears of each one as it is judged
        (a caller can persist rows while the others still decode)."""
        # A bad payload is the task file's error, reported before anything is generated.
        check_tasks(tasks, self.domains)
        start = time.perf_counter()
        cost = Cost()
        queueing = self.backend.queues
        bar = tqdm(
            total=len(tasks), desc="tasks", unit="task", disable=not (self.progress and queueing)
        )
        settings = Settings(self.budgets, self.judge, self.early_stop)
        done: dict[str, Transcript] = {}
        waiting: dict[Future[Generation], _Pending] = {}
        try:
            started = [
                (i, domain_for(t, self.domains).start(t, settings)) for i, t in enumerate(tasks)
            ]
            self._launch(started, waiting, progress=self.progress and not queueing)
            while waiting:
                ready, _ = wait(list(waiting), return_when=FIRST_COMPLETED)
                # In task order: which future finished first does not reorder a batch.
                batch = sorted(((waiting.pop(f), f.result()) for f in ready), key=_order)
                again, ended = self._take(batch)
                for t in self._finish(ended, cost):
                    done[t.task_id] = t
                    bar.update(1)
                    if on_done is not None:
                        on_done(t)
                self._launch(again, waiting)
        except BaseException:
            for f in waiting:  # Ctrl-C or a failure: stop what is still decoding
                f.cancel()
            raise
        finally:
            bar.close()
        cost.seconds = time.perf_counter() - start
        return RunResult([done[t.id] for t in tasks], cost)

    def _launch(
        self,
        batch: list[tuple[int, Episode]],
        waiting: dict[Future[Generation], _Pending],
        *,
        progress: bool = False,
    ) -> None:
        """Queue the next request of each episode in `batch` ((task index, episode) pairs)."""
        if not batch:
            return
        requests = [
            as_judged(r)
            for r in self.defense.apply(self.backend, [ep.request() for _, ep in batch])
        ]
        futures = self.backend.submit_many(requests, progress=progress)
        for (i, ep), r, f in zip(batch, requests, futures, strict=True):
            waiting[f] = _Pending(i, ep, r)

    def _take(
        self, batch: Sequence[tuple[_Pending, Generation]]
    ) -> tuple[list[tuple[int, Episode]], list[_Pending]]:
        """Judge each output and hand it to its episode: (episodes to go on, ended ones)."""
        # What the user reads: the defense's prefix and the model's words, not a prefill
        # the task itself wrote (an attacker's opening words are not the model's answer).
        outputs = [p.request.injected + g.text for p, g in batch]
        # The judge reads what a person would: an answer in base64 or leetspeak decoded.
        judged = self.judge.judge(
            [p.episode.task.prompt for p, _ in batch], [readable(o) for o in outputs]
        )
        again, ended = [], []
        for (p, g), text, j in zip(batch, outputs, judged, strict=True):
            if p.episode.take(p.request, g, text, j):
                again.append((p.index, p.episode))
            else:
                ended.append(p)
        return again, ended

    def _finish(self, ended: Sequence[_Pending], cost: Cost) -> list[Transcript]:
        """Ended episodes' transcripts, in the order given; each domain grades its own at once."""
        by_domain: dict[str, list[_Pending]] = defaultdict(list)
        for p in ended:
            by_domain[p.episode.task.domain].append(p)
        outcomes: dict[int, Outcome] = {}
        for pending in by_domain.values():
            domain = domain_for(pending[0].episode.task, self.domains)
            results = domain.finish([p.episode for p in pending])
            outcomes.update((p.index, o) for p, o in zip(pending, results, strict=True))
        return [self._transcript(p.episode.task, outcomes[p.index], cost) for p in ended]

    def _transcript(self, task: Task, outcome: Outcome, cost: Cost) -> Transcript:
        cost.prompt_tokens += outcome.prompt_tokens
        cost.generated_tokens += outcome.generated_tokens
        return Transcript(
            task_id=task.id,
            kind=task.kind,
            domain=task.domain,
            defense=self.defense.describe(),
            messages=[dict(m) for m in outcome.request.messages],
            response=outcome.response,
            steps=outcome.steps,
            verdict=outcome.verdict,
            tags=task.tags,
            split=task.split,
            prompt_tokens=outcome.prompt_tokens,
            generated_tokens=outcome.generated_tokens,
            injected=outcome.request.injected,
        )


@dataclass
class _Pending:
    """A queued generation: the task's index, its episode, and the request as sent."""

    index: int
    episode: Episode
    request: Request


def _order(item: tuple[_Pending, Generation]) -> int:
    return item[0].index


def as_judged(request: Request) -> Request:
    """`request` with its stop rule reading what the judge will: the defense's injected
    words and the model's (an engine's rule sees the whole prefill, which also holds the
    task's own opening words, an attacker's, that are not the model's answer)."""
    rule = request.stop_when
    if rule is None or request.prefill == request.injected:
        return request
    skip = len(request.prefill)
    return replace(request, stop_when=lambda text: rule(request.injected + text[skip:]))
