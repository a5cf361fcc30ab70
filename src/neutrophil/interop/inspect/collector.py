"""Gathers concurrent Inspect `generate()` calls into batches for one model.

Inspect runs samples concurrently on one event loop. Each call queues its request; a
collector task takes the first one, waits a few milliseconds for more (up to `max_batch`;
`serve.batcher.take_batch`, as the server's batch path), and hands the lot to the engine
in a worker thread. An engine that queues (llama.cpp) takes the batch's rows into its
running batch and the collector goes on to the next one at once, so a long sample never
holds a short one back. Any other engine runs the batch as one `generate` call, one batch
at a time (a local model is not thread-safe, and an HTTP backend fans a batch out by
itself); requests arriving meanwhile form the next batch.

Inspect keeps a model API across `eval()` calls, each with its own event loop, so the queue
and the collector task belong to the loop they started on and a new loop gets new ones.
"""

from __future__ import annotations

import asyncio
import contextlib
from concurrent.futures import Future
from dataclasses import dataclass

from neutrophil.errors import UserError
from neutrophil.interop.inspect.engine import Answer, DefendedEngine, settle
from neutrophil.models.base import Request
from neutrophil.serve.batcher import take_batch


@dataclass(frozen=True)
class _Item:
    request: Request
    future: asyncio.Future[Answer]


class Collector:
    def __init__(self, engine: DefendedEngine, *, max_batch: int, wait_s: float) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.batches: list[int] = []  # the size of every batch run (tests, diagnostics)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[_Item] | None = None
        self._task: asyncio.Task[None] | None = None

    async def submit(self, request: Request) -> Answer:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            raise UserError(
                "neutrophil models run under Inspect's asyncio backend, not trio"
            ) from None
        if self._loop is not loop or self._queue is None:
            self._loop, self._queue = loop, asyncio.Queue()
            self._task = loop.create_task(self._collect(self._queue))
        future: asyncio.Future[Answer] = loop.create_future()
        self._queue.put_nowait(_Item(request, future))
        return await future

    async def _collect(self, queue: asyncio.Queue[_Item]) -> None:
        while True:
            # A sample cancelled while queued (a time limit) needs no generation.
            batch = await take_batch(queue, self.max_batch, self.wait_s)
            if batch:
                await self._run(batch)

    async def _run(self, batch: list[_Item]) -> None:
        self.batches.append(len(batch))
        queues = self.engine.queues
        run = self.engine.submit_many if queues else self.engine.generate
        try:
            # Queued rows come back as futures at once; a batch, once it is generated.
            results = await asyncio.to_thread(run, [i.request for i in batch])
        except Exception as e:  # noqa: BLE001 — handed to every request of the batch
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(e)
            return
        for item, result in zip(batch, results, strict=True):
            if queues:
                _deliver(result, item.future)
            elif not item.future.done():
                item.future.set_result(result)


def _deliver(row: Future[Answer], waiter: asyncio.Future[Answer]) -> None:
    """Hand a queued row's answer to the sample awaiting it; a sample cancelled meanwhile
    (a time limit) stops its row."""
    loop = waiter.get_loop()

    def settle_soon(row: Future[Answer]) -> None:  # in the engine's thread
        with contextlib.suppress(RuntimeError):  # the eval's loop has closed: nobody waits
            loop.call_soon_threadsafe(settle, waiter, row)

    waiter.add_done_callback(lambda w: row.cancel() if w.cancelled() else None)
    row.add_done_callback(settle_soon)
