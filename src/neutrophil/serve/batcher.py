"""Hands each request to the engine as it comes, and keeps the server's view of it.

- A local engine (what `Backend.continuous` gives: llama.cpp, `ContinuousHF`, or
  `models.batching.Batched` for a backend that decodes whole batches) gets each request
  at once (`submit_many`) and batches it with the others itself.
- A remote backend (an HTTP server, which batches by itself) gets one request per call,
  `workers` calls at once, each in a daemon thread: a SIGTERM never waits for an
  upstream answer.

Every request's `stop_when` is wrapped: each call is a heartbeat (`health`), and once a
drain's grace period is over it ends the row, so a shutdown never waits for long rows.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import replace
from typing import Any

from neutrophil.models.base import Backend, Generation, Request

# How often a remote request waiting for a free call looks whether a drain has begun.
DRAIN_POLL_S = 0.25


class ShuttingDown(Exception):
    """The server is draining: the request was not started, or was cut at the grace end."""


class Batcher:
    def __init__(
        self,
        backend: Backend,
        *,
        workers: int = 1,
        stall_s: float = 60.0,
    ) -> None:
        self.backend = backend
        self.workers = workers
        self.stall_s = stall_s
        self.last_progress = time.monotonic()
        self._in_flight = 0
        # What the backend has done for this server (GET /metrics): answers, and their
        # prompt and generated tokens as the backend counted them (a row stopped early,
        # e.g. by a client closing its stream, counts the tokens it really decoded).
        self.answered = 0
        self.prompt_tokens = 0
        self.generated_tokens = 0
        self._counting = threading.Lock()
        self._abort_at: float | None = None  # rows still running then are cut (drain)
        self.draining = False
        self._slots: asyncio.Semaphore | None = None
        self._waiting = 0  # remote requests waiting for a free call

    async def start(self) -> None:
        self._slots = asyncio.Semaphore(self.workers)

    async def stop(self) -> None:
        """Cut every row at its next step (the backend is its owner's to close)."""
        self.begin_drain(0.0)

    def begin_drain(self, grace_s: float) -> None:
        """Refuse new requests; rows still running after `grace_s` seconds are cut."""
        self.draining = True
        abort_at = time.monotonic() + grace_s
        self._abort_at = abort_at if self._abort_at is None else min(self._abort_at, abort_at)

    def pending(self) -> int:
        """Remote requests waiting for a free call (a local engine queues by itself)."""
        return self._waiting

    def busy(self) -> int:
        """Requests accepted and not yet answered."""
        return self._in_flight

    def health(self) -> tuple[bool, str]:
        """(healthy, why): unhealthy when draining, when the engine thread died, or when
        requests are waiting and no row made a step for `stall_s` seconds."""
        if self.draining:
            return False, "shutting down"
        if not self.backend.alive():
            return False, "the decode thread has stopped"
        last = max(self.last_progress, self.backend.last_step)
        idle = time.monotonic() - last
        if self._in_flight and idle > self.stall_s:
            return False, f"no generation step for {idle:.0f} s with {self._in_flight} waiting"
        return True, "ok"

    async def submit(self, request: Request) -> Generation:
        if self.draining:
            raise ShuttingDown("the server is shutting down")
        if not self._in_flight:
            self.last_progress = time.monotonic()  # idle until now is not a stall
        self._in_flight += 1
        cut, stepped = threading.Event(), threading.Event()
        request = replace(request, stop_when=self._watched(request.stop_when, cut, stepped))
        try:
            if not self.backend.remote:
                (started,) = self.backend.submit_many([request])
                started.add_done_callback(self._count_done)  # when the engine ends the row
                row = asyncio.wrap_future(started)
                row.add_done_callback(_retrieved)
                try:
                    gen = await asyncio.shield(row)
                except asyncio.CancelledError:
                    # The client left. A queued row is dropped unseen; a decoding one ends
                    # at its next step through its `stop_when`, and its tokens are counted.
                    if not stepped.is_set():
                        started.cancel()
                    raise
                except Exception:
                    if self.draining:  # the engine was closed under it (shutdown)
                        raise ShuttingDown("the server shut down before this request ran") from None
                    raise
            else:
                gen = await self._call(request)
        finally:
            self._in_flight -= 1
            self.last_progress = time.monotonic()
        if cut.is_set():
            raise ShuttingDown("the server shut down before this request finished")
        return gen

    def _watched(
        self, inner: Callable[[str], bool] | None, cut: threading.Event, stepped: threading.Event
    ) -> Callable[[str], bool]:
        def stop_when(text: str) -> bool:  # runs in the backend's thread, once per step
            stepped.set()
            self.last_progress = time.monotonic()
            if self._abort_at is not None and time.monotonic() >= self._abort_at:
                cut.set()
                return True
            return inner is not None and inner(text)

        return stop_when

    def _count(self, gens: Sequence[Generation]) -> None:
        with self._counting:  # engine threads end rows concurrently
            self.answered += len(gens)
            self.prompt_tokens += sum(g.prompt_tokens for g in gens)
            self.generated_tokens += sum(g.generated_tokens for g in gens)

    def _count_done(self, future: Future[Generation]) -> None:
        if not future.cancelled() and future.exception() is None:
            self._count([future.result()])

    async def _call(self, request: Request) -> Generation:
        assert self._slots is not None, "Batcher.start() was not awaited"
        self._waiting += 1
        try:
            while True:  # a drain refuses the requests still waiting for a call
                if self.draining:
                    raise ShuttingDown("the server is shutting down")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._slots.acquire(), DRAIN_POLL_S)
                    break
        finally:
            self._waiting -= 1
        if self.draining:
            self._slots.release()
            raise ShuttingDown("the server is shutting down")
        # The call holds its slot until its thread ends, even if its client leaves first.
        (gen,) = await _in_daemon_thread(
            self.backend.generate, [request], on_exit=self._slots.release
        )
        self._count([gen])
        return gen


def _retrieved(future: asyncio.Future[Generation]) -> None:
    """Mark a shielded row's outcome as seen: nobody awaits it once its client has left."""
    if not future.cancelled():
        future.exception()


async def _in_daemon_thread(
    fn: Callable[[Sequence[Request]], Any], arg: Any, *, on_exit: Callable[[], Any] | None = None
) -> Any:
    """`fn(arg)` in a daemon thread: unlike an executor's, it never holds the process open
    at exit (a SIGTERM must not wait for a batch of long rows). `on_exit` runs on the loop
    once `fn` has returned or raised, whether or not anyone still awaits it."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if on_exit is not None:
            on_exit()
        if future.done():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def work() -> None:
        try:
            outcome = (True, fn(arg))
        except BaseException as e:  # noqa: BLE001 — re-raised in the awaiting task
            outcome = (False, e)
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile (shutdown)
            loop.call_soon_threadsafe(settle, *outcome)

    threading.Thread(target=work, name="neutrophil-batch", daemon=True).start()
    return await future
