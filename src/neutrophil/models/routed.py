"""Two engines over one model's weights, as one: each row to the engine that can steer it.

A GGUF decodes on llama.cpp, which steers with a control vector: a sum of directions added
after each block, the same for every position. An equalizer's add-only mix is exactly
that, so those rows (and unsteered ones) decode there, fast. Ablate and clamp read each
position's activations, which only forward hooks can do: those rows decode on the
transformers twin with the same weights (`ContinuousHF`, per-row edits). The studio on a
GGUF is this router over the two.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future

from neutrophil.models.base import Backend, Generation, LocalBackend, Request, collect


class EditRouter(Backend):
    """`fast` takes every row whose edit it can apply (`Backend.applies`); `hooks` the rest.
    Both queue, so a steered row never waits for the other engine's batch. `fast` belongs
    to the caller (it is usually the backend itself); `hooks` is closed with the router."""

    queues = True
    edits = "row"  # every row gets its own mix, on one engine or the other

    def __init__(self, fast: Backend, hooks: Backend) -> None:
        self.fast = fast
        self.hooks = hooks
        self.name = fast.name
        self.engine = fast.engine
        self.prefill_mode = fast.prefill_mode
        self.capacity = fast.capacity
        self.takes_raw_prompts = fast.takes_raw_prompts
        self.context_length = fast.context_length
        self.chat_template = fast.chat_template

    @property
    def fingerprint(self) -> str:
        return self.fast.fingerprint

    @property
    def last_step(self) -> float:  # type: ignore[override]
        return max(self.fast.last_step, self.hooks.last_step)

    def submit_many(
        self, requests: Sequence[Request], *, progress: bool = False
    ) -> list[Future[Generation]]:
        on_fast = [self.fast.applies(r) for r in requests]
        fast = [r for r, f in zip(requests, on_fast, strict=True) if f]
        hooks = [r for r, f in zip(requests, on_fast, strict=True) if not f]
        fast_futures = iter(self.fast.submit_many(fast) if fast else [])
        hook_futures = iter(self.hooks.submit_many(hooks) if hooks else [])
        return [next(fast_futures) if f else next(hook_futures) for f in on_fast]

    def generate(self, requests: Sequence[Request], *, progress: bool = False) -> list[Generation]:
        return collect(self.submit_many(requests), progress=progress)

    def applies(self, request: Request) -> bool:
        return self.fast.applies(request) or self.hooks.applies(request)

    def prompt_text(self, request: Request) -> str | None:
        return self.fast.prompt_text(request)

    def count_tokens(self, text: str) -> int | None:
        return self.fast.count_tokens(text)

    def max_token_chars(self) -> int | None:
        return self.fast.max_token_chars()

    def local(self) -> LocalBackend | None:
        return self.fast.local()

    def alive(self) -> bool:
        return self.fast.alive() and self.hooks.alive()

    def close(self) -> None:
        self.hooks.close()
