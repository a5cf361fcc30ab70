"""Engines over a model that other threads also read, or that two engines share.

- `shared_model_engine(backend, rows, lock)`: what a server decodes on while request
  threads read the transformers model under `lock` (a gate, the studio's meter and
  concept extraction): hooks are installed on the model itself, so a reading must not
  overlap a decoding step. `ContinuousHF` holds the lock step by step (answers stream; a
  reading waits one step); `Locked` decodes a whole batch under it where the model's cache
  layout does not allow continuous batching; llama.cpp decodes apart from its
  transformers twin and needs no lock.
- `EditRouter`: two engines over one model's weights, as one; each row to the engine that
  can steer it. A GGUF decodes on llama.cpp, which steers with a control vector: a sum of
  directions added after each block, the same for every position. An equalizer's add-only
  mix is exactly that, so those rows (and unsteered ones) decode there, fast. Ablate and
  clamp read each position's activations, which only forward hooks can do: those rows
  decode on the transformers twin with the same weights (`ContinuousHF`, per-row edits).
  The studio on a GGUF is this router over the two.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future
from typing import Any

from neutrophil.models.base import Backend, Generation, Over, Request, collect
from neutrophil.models.batching import Batched


class EditRouter(Over):
    """`fast` takes every row whose edit it can apply (`Backend.applies`); `hooks` the rest.
    Both queue, so a steered row never waits for the other engine's batch. `fast` belongs
    to the caller (it is usually the backend itself); `hooks` is closed with the router."""

    def __init__(self, fast: Backend, hooks: Backend) -> None:
        super().__init__(fast)
        self.fast = fast
        self.hooks = hooks
        self.queues = fast.queues and hooks.queues  # both do when each is a `continuous()`
        self.edits = "row"  # every row gets its own mix, on one engine or the other

    @property
    def last_step(self) -> float:  # type: ignore[override]
        return max(self.fast.last_step, self.hooks.last_step)

    def submit_many(
        self, requests: Sequence[Request], *, progress: bool = False
    ) -> list[Future[Generation]]:
        on_fast = [self.fast.applies(r) for r in requests]
        fast = [r for r, f in zip(requests, on_fast, strict=True) if f]
        hooks = [r for r, f in zip(requests, on_fast, strict=True) if not f]
        fast_futures = self.fast.submit_many(fast) if fast else []
        try:
            hook_futures = self.hooks.submit_many(hooks) if hooks else []
        except BaseException:
            for future in fast_futures:  # nobody will read them
                future.cancel()
            raise
        by_fast, by_hooks = iter(fast_futures), iter(hook_futures)
        return [next(by_fast) if f else next(by_hooks) for f in on_fast]

    def generate(self, requests: Sequence[Request], *, progress: bool = False) -> list[Generation]:
        return collect(self.submit_many(requests), progress=progress)

    def applies(self, request: Request) -> bool:
        return self.fast.applies(request) or self.hooks.applies(request)

    def alive(self) -> bool:
        return self.fast.alive() and self.hooks.alive()

    def close(self) -> None:
        self.hooks.close()


def shared_model_engine(
    backend: Backend, max_rows: int, lock: threading.RLock, *, wait_s: float = 0.005
) -> Backend:
    """The engine a server decodes on while other threads read `backend.local()` under
    `lock` (the studio's gate, meter and concept extraction, a guard's harm gate): hooks
    are installed on the model itself, so a reading must not overlap a decoding step.
    Continuous batching with per-row edits and the lock held step by step (answers stream
    token by token; a reading waits one step); a whole batch at a time under the lock
    where the model's cache layout does not allow that; the backend's own engine when the
    model read is not the one decoded (llama.cpp decodes apart from its transformers twin)."""
    from neutrophil.models.continuous import ContinuousHF  # imports torch: on use

    if backend.local() is not backend:
        return backend.continuous(max_rows)
    if ContinuousHF.supports(backend):
        return ContinuousHF(backend, max_rows=max_rows, lock=lock)
    return Batched(Locked(backend, lock), max_rows=max_rows, wait_s=wait_s)


class Locked(Over):
    """The backend, one batch at a time under `lock` (a gate reads the same model); a
    server drives it through `Batched`, so rows with different mixes share a batch."""

    def __init__(self, backend: Backend, lock: threading.RLock) -> None:
        super().__init__(backend)
        self.lock = lock

    def generate(self, requests: Sequence[Request], *, progress: bool = False) -> list[Any]:
        with self.lock:
            return self.inner.generate(requests)

    def count_tokens(self, text: str) -> int | None:
        # Under the lock: a fast tokenizer used by two threads at once can fail
        # ("Already borrowed"), and `generate` tokenises its batch.
        with self.lock:
            return self.inner.count_tokens(text)
