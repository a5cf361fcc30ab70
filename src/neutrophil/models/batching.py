"""Collecting concurrent requests into batches, for engines that decode a batch at a time.

An engine that queues (llama.cpp, `ContinuousHF`, an HTTP server) takes rows into its
running batch as they come. One that does not (a transformers model whose cache layout
`ContinuousHF` cannot run, a `Backend` of someone else's) gets batches:

- `RequestBatcher(run, max_rows, wait_s)`: requests submitted from any thread wait for
  the first one's batch to close (`wait_s` after it came, or at `max_rows`), then `run`
  gets the batch in a worker thread, one batch at a time; requests that come meanwhile
  form the next one. A request cancelled while it waits is never run.
- `Batched(backend, max_rows, wait_s)`: that, as an engine that queues
  (`Backend.continuous`'s default for a backend that does not queue).

Inspect's provider batches its defended requests with a `RequestBatcher` too.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

from neutrophil.models.base import Backend, Generation, Over, Request, collect

T = TypeVar("T")

RECENT_BATCHES = 1000


class RequestBatcher(Generic[T]):
    def __init__(
        self,
        run: Callable[[list[Request]], Sequence[T]],
        *,
        max_rows: int,
        wait_s: float = 0.005,
        name: str = "neutrophil-batch",
    ) -> None:
        self.run = run
        self.max_rows = max(1, max_rows)
        self.wait_s = wait_s
        self.name = name
        # The sizes of the latest batches (tests, diagnostics); bounded, since a server
        # runs one batcher for its lifetime.
        self.batches: deque[int] = deque(maxlen=RECENT_BATCHES)
        self.last_step = time.monotonic()  # when the last batch ended (health checks)
        self._waiting: deque[tuple[Request, Future[T]]] = deque()
        self._wake = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, request: Request) -> Future[T]:
        future: Future[T] = Future()
        with self._wake:
            if self._closed:
                raise RuntimeError(f"{self.name} is closed")
            self._waiting.append((request, future))
            if self._thread is None:
                # A daemon: a process that exits never waits for a batch of long rows.
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()
            self._wake.notify()
        return future

    def waiting(self) -> int:
        """Requests not yet handed to `run`."""
        return len(self._waiting)

    def alive(self) -> bool:
        return self._thread is None or self._thread.is_alive() or self._closed

    def close(self) -> None:
        """Fail what still waits; a batch already running ends as it would."""
        with self._wake:
            self._closed = True
            self._wake.notify()
            while self._waiting:
                _, future = self._waiting.popleft()
                if future.set_running_or_notify_cancel():
                    future.set_exception(RuntimeError(f"{self.name} was closed"))

    def _next_batch(self) -> list[tuple[Request, Future[T]]] | None:
        with self._wake:
            while not self._waiting and not self._closed:
                self._wake.wait()
            deadline = time.monotonic() + self.wait_s
            while len(self._waiting) < self.max_rows and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._wake.wait(left)
            if self._closed:
                return None
            batch = [self._waiting.popleft() for _ in range(min(self.max_rows, len(self._waiting)))]
        return [(r, f) for r, f in batch if f.set_running_or_notify_cancel()]

    def _loop(self) -> None:
        while (batch := self._next_batch()) is not None:
            if not batch:
                continue
            self.batches.append(len(batch))
            try:
                results = list(self.run([r for r, _ in batch]))
                if len(results) != len(batch):
                    raise RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
            except BaseException as e:  # noqa: BLE001 — every request of the batch hears of it
                for _, future in batch:
                    future.set_exception(e)
            else:
                for (_, future), result in zip(batch, results, strict=True):
                    future.set_result(result)
            self.last_step = time.monotonic()


class Batched(Over):
    """`backend` as an engine that queues: `submit_many` returns at once, and the rows are
    generated in batches of up to `max_rows` (`RequestBatcher`). The backend belongs to
    the caller; `close` stops only the batching."""

    queues = True

    def __init__(self, backend: Backend, *, max_rows: int, wait_s: float = 0.005) -> None:
        super().__init__(backend)
        self.batcher: RequestBatcher[Generation] = RequestBatcher(
            backend.generate, max_rows=max_rows, wait_s=wait_s
        )

    @property
    def last_step(self) -> float:  # type: ignore[override]
        return max(self.batcher.last_step, self.inner.last_step)

    def submit_many(
        self, requests: Sequence[Request], *, progress: bool = False
    ) -> list[Future[Generation]]:
        return [self.batcher.submit(r) for r in requests]

    def generate(self, requests: Sequence[Request], *, progress: bool = False) -> list[Generation]:
        return collect(self.submit_many(requests), progress=progress)

    def alive(self) -> bool:
        return self.batcher.alive() and self.inner.alive()

    def close(self) -> None:
        self.batcher.close()
