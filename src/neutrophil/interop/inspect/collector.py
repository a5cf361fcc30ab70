"""Gathers concurrent Inspect `generate()` calls into batches for one model.

Inspect runs samples concurrently on one event loop. Each call hands its request to a
`models.batching.RequestBatcher`: the first request's batch closes a few milliseconds later
(`batch_wait_ms`) or at `batch_size` rows, and a worker thread defends it (`DefendedEngine`)
and hands it to the engine, one batch at a time, so a gate never reads the model while
another batch is being defended. An engine that queues (llama.cpp, an HTTP server) takes
the batch's rows into its running batch and the worker goes on to the next one at once, so
a long sample never holds a short one back. Any other engine generates the batch before
the worker takes the next; requests arriving meanwhile form it. The batcher lives in
threads, so one model serves Inspect's successive `eval()` calls, each on its own loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import Future
from typing import Any

from neutrophil.errors import UserError
from neutrophil.interop.inspect.engine import Answer, DefendedEngine, settle
from neutrophil.models.base import Request
from neutrophil.models.batching import RequestBatcher


class Collector:
    def __init__(self, engine: DefendedEngine, *, max_batch: int, wait_s: float) -> None:
        self.engine = engine
        self.queues = engine.queues
        run = engine.submit_many if self.queues else engine.generate
        self.batcher: RequestBatcher[Any] = RequestBatcher(
            run, max_rows=max_batch, wait_s=wait_s, name="neutrophil-inspect"
        )

    @property
    def batches(self) -> list[int]:
        """The sizes of the batches run, latest last (tests, diagnostics)."""
        return list(self.batcher.batches)

    async def submit(self, request: Request) -> Answer:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise UserError(
                "neutrophil models run under Inspect's asyncio backend, not trio"
            ) from None
        waiter: asyncio.Future[Answer] = loop.create_future()
        queued = self.batcher.submit(request)
        # A sample cancelled while queued (a time limit) needs no generation; one cancelled
        # while its row decodes stops the row.
        waiter.add_done_callback(lambda w: queued.cancel() if w.cancelled() else None)
        queued.add_done_callback(lambda q: _on_loop(waiter, _when_batched, q, waiter, self.queues))
        return await waiter


def _when_batched(queued: Future[Any], waiter: asyncio.Future[Answer], queues: bool) -> None:
    """On the sample's loop: hand it the answer, or the engine's queued row (whose
    cancellation, a time limit, stops the row)."""
    if queues and not queued.cancelled() and queued.exception() is None:
        row: Future[Answer] = queued.result()
        waiter.add_done_callback(lambda w: row.cancel() if w.cancelled() else None)
        row.add_done_callback(lambda r: _on_loop(waiter, settle, waiter, r))
    else:
        settle(waiter, queued)


def _on_loop(waiter: asyncio.Future[Answer], fn: Any, *args: Any) -> None:
    """`fn(*args)` on `waiter`'s loop (asyncio futures are not thread-safe)."""
    with contextlib.suppress(RuntimeError):  # the eval's loop has closed: nobody waits
        waiter.get_loop().call_soon_threadsafe(fn, *args)
