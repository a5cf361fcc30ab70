"""Collects concurrent requests for a few milliseconds into one `backend.generate` call.

A local model is fastest on a batch, and is not thread-safe, so by default one batch runs at
a time (`workers=1`); requests arriving meanwhile queue up and form the next batch. An HTTP
backend can run several batches at once (`workers=N`).
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from neutrophil.models.base import Backend, Generation, Request


@dataclass(frozen=True)
class _Item:
    request: Request
    future: asyncio.Future[Generation]


class Batcher:
    def __init__(
        self, backend: Backend, *, max_batch: int = 32, wait_s: float = 0.005, workers: int = 1
    ) -> None:
        self.backend = backend
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.workers = workers
        self._queue: asyncio.Queue[_Item] | None = None
        self._slots: asyncio.Semaphore | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._slots = asyncio.Semaphore(self.workers)
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="neutrophil-batch")
        self._spawn(self._collect())

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def pending(self) -> int:
        """Requests waiting for a batch (not yet handed to the backend)."""
        return self._queue.qsize() if self._queue is not None else 0

    async def submit(self, request: Request) -> Generation:
        assert self._queue is not None, "Batcher.start() was not awaited"
        future: asyncio.Future[Generation] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Item(request, future))
        return await future

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _collect(self) -> None:
        assert self._queue is not None and self._slots is not None
        loop = asyncio.get_running_loop()
        while True:
            await self._slots.acquire()  # wait for a free worker: the queue fills meanwhile
            batch = [await self._queue.get()]
            deadline = loop.time() + self.wait_s
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._queue.get_nowait())
                    continue
                except asyncio.QueueEmpty:
                    pass
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except asyncio.TimeoutError:
                    break
            # A client that went away while queued does not need a generation.
            batch = [item for item in batch if not item.future.done()]
            if batch:
                self._spawn(self._run(batch))
            else:
                self._slots.release()

    async def _run(self, batch: list[_Item]) -> None:
        assert self._slots is not None
        try:
            gens = await asyncio.get_running_loop().run_in_executor(
                self._executor, self.backend.generate, [item.request for item in batch]
            )
            for item, gen in zip(batch, gens, strict=True):
                if not item.future.done():
                    item.future.set_result(gen)
        except Exception as e:  # noqa: BLE001 — handed to every waiting request
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(e)
        finally:
            self._slots.release()
