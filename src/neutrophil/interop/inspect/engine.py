"""What the collector runs in its worker thread: the defense applied to a batch of
requests, then the backend's `submit_many` (an engine that queues: the rows join its
running batch) or one `generate` call (any other).

Applying the defense here rather than per request keeps it identical to `neutrophil eval`
(`defense.apply` on the batch, then `submit_many` or `generate`): a gated defense scores all
rows in one forward pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from typing import Any

from neutrophil.defenses.base import Defense
from neutrophil.models.base import Backend, Generation, Message, Request
from neutrophil.serve.protocol import cut_at_stop


class StopWatch:
    """A `Request.stop_when`: neutrophil's verdict stop rule and/or the caller's stop strings.

    Once the defense has run, `skip` is the defended prefill's length and `injected` what
    the defense put there: stop strings count only in generated text, and the rule reads
    what is scored, the injected prefix and the model's words (as `agent.as_judged`), not
    the sample's own prefill.
    """

    def __init__(self, stops: Sequence[str] = (), rule: Callable[[str], bool] | None = None):
        self.stops = tuple(stops)
        self.rule = rule
        self.skip = 0
        self.injected = ""

    def __call__(self, full: str) -> bool:
        generated = full[self.skip :]
        if self.rule is not None and self.rule(self.injected + generated):
            return True
        return bool(self.stops) and cut_at_stop(generated, self.stops)[1]


@dataclass(frozen=True)
class Answer(Generation):
    """A generation plus what the defense did to its request (for the transcript)."""

    injected: str = ""  # text the defense put at the start of the assistant turn
    hit_stop: bool = False  # cut at one of the caller's stop strings
    messages: tuple[Message, ...] = ()  # the messages the model saw, after the defense
    prefill: str = ""  # the whole assistant prefill the model continued from


class DefendedEngine:
    """A `Backend`-shaped view: `generate` defends the batch, then generates it."""

    def __init__(self, backend: Backend, defense: Defense) -> None:
        self.backend = backend
        self.defense = defense
        self.name = backend.name

    @property
    def prefill_mode(self) -> str:
        return self.backend.prefill_mode

    @property
    def queues(self) -> bool:
        """Rows join a running batch (`submit_many`); a remote backend's calls block."""
        return self.backend.queues and not self.backend.remote

    def _defend(self, requests: Sequence[Request]) -> list[Request]:
        defended = self.defense.apply(self.backend, requests)
        for d in defended:
            if isinstance(d.stop_when, StopWatch):
                d.stop_when.skip, d.stop_when.injected = len(d.prefill), d.injected
        return defended

    def generate(self, requests: Sequence[Request], *, progress: bool = False) -> list[Answer]:
        defended = self._defend(requests)
        gens = self.backend.generate(defended, progress=progress)
        return [_answer(d, g) for d, g in zip(defended, gens, strict=True)]

    def submit_many(self, requests: Sequence[Request]) -> list[Future[Answer]]:
        """Queue the defended rows; cancelling an answer's future stops its row."""
        defended = self._defend(requests)
        rows = self.backend.submit_many(defended)
        return [_answer_future(d, row) for d, row in zip(defended, rows, strict=True)]


def _answer(sent: Request, g: Generation) -> Answer:
    text, hit = g.text, False
    if isinstance(sent.stop_when, StopWatch) and sent.stop_when.stops:
        text, hit = cut_at_stop(text, sent.stop_when.stops)
    return Answer(
        text=text,
        prompt_tokens=g.prompt_tokens,
        generated_tokens=g.generated_tokens,
        stopped_early=g.stopped_early,
        injected=sent.injected,
        hit_stop=hit,
        messages=sent.messages,
        prefill=sent.prefill,
    )


def _answer_future(sent: Request, row: Future[Generation]) -> Future[Answer]:
    answer: Future[Answer] = Future()
    answer.add_done_callback(lambda a: row.cancel() if a.cancelled() else None)
    row.add_done_callback(lambda r: settle(answer, r, partial(_answer, sent)))
    return answer


def settle(target: Any, source: Future[Any], result: Callable[[Any], Any] = lambda v: v) -> None:
    """Give `target` (a concurrent or an asyncio future) `source`'s outcome, its value
    passed through `result`; nothing when `target` is done already (its waiter gave up)."""
    if target.done():
        return
    if source.cancelled():
        target.cancel()
    elif (error := source.exception()) is not None:
        target.set_exception(error)
    else:
        target.set_result(result(source.result()))
