"""Answering one request: wait for its generation (or stream it), and end its row at the
next step once its client has gone.

Every request's `stop_when` says True when the client is gone, so the backend drops the row
at its next step whether the client streamed or not: streaming responses notice through
Starlette's disconnect listener (the generator is closed), plain ones through a task that
waits for the ASGI `http.disconnect` message while the row runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

from fastapi import Request as HTTPRequest
from fastapi.responses import Response

from neutrophil.errors import BackendError, UserError
from neutrophil.models.base import Generation, Request
from neutrophil.serve.batcher import Batcher, ShuttingDown
from neutrophil.serve.protocol import Call, Reply, cut_at_stop, error_body, sse, usage_of, visible


def stopper(
    call: Call, request: Request, gone: threading.Event, on_text: Callable[[str], None] | None
) -> Callable[[str], bool]:
    """The row's `stop_when`: the client left, or a stop string showed up. `on_text` sees
    the continuation at every step (streaming)."""
    prefill_len = len(request.prefill)

    def stop_when(full: str) -> bool:  # runs in the backend's thread, once per step
        if gone.is_set():
            return True
        text = full[prefill_len:]
        if on_text is not None:
            on_text(text)
        return bool(call.stop) and cut_at_stop(text, call.stop)[1]

    return stop_when


def finish_reason(gen: Generation, request: Request, hit_stop: bool) -> str:
    at_budget = gen.generated_tokens >= request.max_new_tokens
    return "length" if at_budget and not hit_stop and not gen.stopped_early else "stop"


async def until_disconnected(http: HTTPRequest) -> None:
    """Returns once the client has closed the connection (the body is already read, so the
    next ASGI message is `http.disconnect`)."""
    while True:
        message = await http.receive()
        if message["type"] == "http.disconnect":
            return


async def complete(
    http: HTTPRequest, batcher: Batcher, call: Call, request: Request, injected: str, reply: Reply
) -> Any:
    gone = threading.Event()
    request = replace(request, stop_when=stopper(call, request, gone, None))
    task = asyncio.ensure_future(batcher.submit(request))
    watcher = asyncio.ensure_future(until_disconnected(http))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if not task.done():  # the client left: its row ends at the backend's next step
        gone.set()
        task.cancel()
        with contextlib.suppress(BaseException):
            await task
        return Response(status_code=499)  # nobody reads it; logs show why
    gen = task.result()
    text, hit = cut_at_stop(gen.text, call.stop)
    return reply.full(injected + text, gen, finish_reason(gen, request, hit))


class Stream:
    """One SSE answer: text is streamed as the backend generates it (its `stop_when` hook
    sees every step); when the client goes away, the hook ends this row so the backend
    stops early. With `call.continuous_usage` and `prompt_tokens` known, every chunk carries
    usage so far (one step = one token).

    `open()` waits for the first step before any header is sent, so a request the backend
    refuses at once (an upstream 400, a prompt over its context) gets its own status code
    instead of a 200 followed by an error event."""

    def __init__(
        self,
        batcher: Batcher,
        call: Call,
        request: Request,
        injected: str,
        reply: Reply,
        prompt_tokens: int | None = None,
    ) -> None:
        self.call, self.request, self.injected, self.reply = call, request, injected, reply
        self.prompt_tokens = prompt_tokens
        self.latest: list[str] = []  # the newest text only: a slow reader piles up nothing
        self.ready = asyncio.Event()
        self.steps = 0
        self.gone = threading.Event()
        loop = asyncio.get_running_loop()

        def on_text(text: str) -> None:
            def publish() -> None:
                self.steps += 1
                self.latest[:] = [text]
                self.ready.set()

            with contextlib.suppress(RuntimeError):  # the loop closed (shutdown)
                loop.call_soon_threadsafe(publish)

        watched = replace(request, stop_when=stopper(call, request, self.gone, on_text))
        self.task = asyncio.ensure_future(batcher.submit(watched))

    async def open(self, http: HTTPRequest) -> bool:
        """Wait for the first step; raises what the backend raised before it. False when
        the client left meanwhile (its row is ended)."""
        first = asyncio.ensure_future(self.ready.wait())
        watcher = asyncio.ensure_future(until_disconnected(http))
        try:
            await asyncio.wait({first, self.task, watcher}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            first.cancel()
            watcher.cancel()
        if watcher.done() and not watcher.cancelled() and not self.task.done():
            self.close()
            return False
        if self.task.done() and self.task.exception() is not None and not self.latest:
            raise self.task.exception()  # type: ignore[misc]
        return True

    def close(self) -> None:
        self.gone.set()  # the client left (or we are done): the backend stops this row
        self.task.cancel()

    async def events(self) -> AsyncIterator[str]:
        call, reply, task = self.call, self.reply, self.task
        emitted = ""
        per_chunk = call.continuous_usage and self.prompt_tokens is not None
        try:
            yield (
                reply.chunk(self.injected or None, role=True)
                if reply.chat
                else reply.chunk(self.injected)
            )
            while True:
                if self.latest:
                    self.ready.clear()
                    shown = visible(self.latest.pop(), call.stop)
                    if len(shown) > len(emitted) and shown.startswith(emitted):
                        so_far = (
                            usage_of(self.prompt_tokens or 0, self.steps) if per_chunk else None
                        )
                        yield reply.chunk(shown[len(emitted) :], so_far=so_far)
                        emitted = shown
                if task.done():
                    break
                waiter = asyncio.ensure_future(self.ready.wait())
                try:  # a client that leaves closes us here: the waiter must not outlive it
                    await asyncio.wait({waiter, task}, return_when=asyncio.FIRST_COMPLETED)
                finally:
                    waiter.cancel()
            try:
                gen = task.result()
            except BackendError as e:
                yield sse(error_body(str(e), "upstream_error"))
                return
            except (UserError, ShuttingDown) as e:
                shut = isinstance(e, ShuttingDown)
                yield sse(
                    error_body(str(e), "service_unavailable" if shut else "invalid_request_error")
                )
                return
            text, hit = cut_at_stop(gen.text, call.stop)
            if len(text) > len(emitted) and text.startswith(emitted):
                yield reply.chunk(text[len(emitted) :])
            yield reply.chunk(finish=finish_reason(gen, self.request, hit))
            if call.include_usage:
                yield reply.usage_chunk(gen)
            yield "data: [DONE]\n\n"
        finally:
            self.close()
