"""What the collector runs in its worker thread: the defense applied to a whole batch of
requests, then one `backend.generate` call.

Applying the defense here rather than per request keeps it identical to `neutrophil eval`
(`defense.apply` on the batch, then `generate`): a gated defense scores all rows in one
forward pass, and it never runs while steering hooks from another batch sit on the model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from neutrophil.defenses.base import Defense
from neutrophil.models.base import Backend, Generation, Message, Request
from neutrophil.serve.protocol import cut_at_stop


class StopWatch:
    """A `Request.stop_when`: neutrophil's verdict stop rule and/or the caller's stop strings.

    Stop strings count only in generated text, not in the injected prefix, so `skip` is set
    to the defended prefill's length once the defense has run.
    """

    def __init__(self, stops: Sequence[str] = (), rule: Callable[[str], bool] | None = None):
        self.stops = tuple(stops)
        self.rule = rule
        self.skip = 0

    def __call__(self, full: str) -> bool:
        if self.rule is not None and self.rule(full):
            return True
        return bool(self.stops) and cut_at_stop(full[self.skip :], self.stops)[1]


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

    def generate(self, requests: Sequence[Request], *, progress: bool = False) -> list[Answer]:
        defended = self.defense.apply(self.backend, requests)
        for d in defended:
            if isinstance(d.stop_when, StopWatch):
                d.stop_when.skip = len(d.prefill)
        gens = self.backend.generate(defended, progress=progress)
        out = []
        for d, g in zip(defended, gens, strict=True):
            text, hit = g.text, False
            if isinstance(d.stop_when, StopWatch) and d.stop_when.stops:
                text, hit = cut_at_stop(text, d.stop_when.stops)
            out.append(
                Answer(
                    text=text,
                    prompt_tokens=g.prompt_tokens,
                    generated_tokens=g.generated_tokens,
                    stopped_early=g.stopped_early,
                    injected=d.injected,
                    hit_stop=hit,
                    messages=d.messages,
                    prefill=d.prefill,
                )
            )
        return out
