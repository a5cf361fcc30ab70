"""A domain: how one kind of task is run and judged. The seam between the agent and an environment.

The agent owns batching, the defense and the refusal judge. A domain owns what is
particular to its tasks:
- which payload fields a task needs (`check`);
- the token budget and the rule that stops a row once its verdict is fixed (`stop_rule`);
- the request for each step and how an output moves the environment (`start` -> `Episode`);
- the verdict (`finish`, batched so a domain can grade many episodes at once).

Chat and code episodes are one generation (`SingleTurn`); a web episode is several steps.
A new domain is one module with a `Domain` and one line in `envs/registry.py`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from neutrophil.models.base import Generation, Request, user_message
from neutrophil.records import Verdict
from neutrophil.tasks.task import Task

StopRule = Callable[[str], bool]


@dataclass(frozen=True)
class Budgets:
    """Token budgets per generation; `web_steps` caps the length of a web episode."""

    chat: int = 128
    code: int = 320
    web_step: int = 48
    web_steps: int = 8


class EarlyJudge(Protocol):
    """What a domain asks the refusal judge while a row is still decoding."""

    def decided(self, text: str) -> bool:
        """The verdict on the text so far is fixed, refusal or not."""
        ...

    def refused_early(self, text: str) -> bool:
        """The text so far is already a refusal whatever follows (False: cannot tell yet)."""
        ...


class Judged(Protocol):
    """The refusal judge's verdict on one output (`judges.refusal.JudgeResult`)."""

    refused: bool
    score: float
    judge: str


@dataclass(frozen=True)
class Settings:
    """What every episode of a run shares."""

    budgets: Budgets
    judge: EarlyJudge
    early_stop: bool = True


@dataclass(frozen=True)
class Outcome:
    """How an episode ended: its last request (as the defense sent it), output and verdict."""

    request: Request
    response: str
    verdict: Verdict
    prompt_tokens: int
    generated_tokens: int
    steps: list[dict[str, Any]] = field(default_factory=list)


class Episode(Protocol):
    """One task being run: the next request, and what each output does."""

    task: Task

    def request(self) -> Request:
        """The next generation, before the defense edits it."""
        ...

    def take(self, request: Request, generation: Generation, text: str, judged: Judged) -> bool:
        """Record one output (`text`: what the defense injected, then the model's words;
        not the task's own prefill); True to go on."""
        ...


class Domain(Protocol):
    name: str

    def check(self, task: Task) -> None:
        """Raise UserError naming `task.where()` if the task's payload is unusable."""
        ...

    def stop_rule(self, task: Task, judge: EarlyJudge) -> StopRule:
        """When a row's output already fixes its verdict, so generation can stop."""
        ...

    def start(self, task: Task, settings: Settings) -> Episode: ...

    def finish(self, episodes: Sequence[Episode]) -> list[Outcome]:
        """The outcomes of ended episodes (all started by this domain), in order."""
        ...


class SingleTurn:
    """A one-generation episode: the task's user turn and one response."""

    def __init__(self, task: Task, max_new_tokens: int, stop_when: StopRule | None) -> None:
        self.task = task
        self._request = Request(
            messages=user_message(task.prompt, task.system),
            prefill=task.prefill,
            max_new_tokens=max_new_tokens,
            stop_when=stop_when,
        )
        self.sent = self._request
        self.response = ""
        self.judged: Judged | None = None
        self.prompt_tokens = 0
        self.generated_tokens = 0

    def request(self) -> Request:
        return self._request

    def take(self, request: Request, generation: Generation, text: str, judged: Judged) -> bool:
        self.sent, self.response, self.judged = request, text, judged
        self.prompt_tokens = generation.prompt_tokens
        self.generated_tokens = generation.generated_tokens
        return False

    def outcome(self, verdict: Verdict) -> Outcome:
        return Outcome(self.sent, self.response, verdict, self.prompt_tokens, self.generated_tokens)


def single_turns(episodes: Sequence[Episode]) -> list[SingleTurn]:
    """`episodes` as the `SingleTurn`s a single-turn domain started, judged."""
    out = []
    for ep in episodes:
        if not isinstance(ep, SingleTurn) or ep.judged is None:
            raise TypeError(f"{ep.task.id}: not a finished single-turn episode")
        out.append(ep)
    return out
