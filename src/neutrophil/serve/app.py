"""The OpenAI-compatible app: `POST /v1/chat/completions`, `POST /v1/completions`,
`GET /v1/models`, `GET /health`, over any `Backend`, optionally behind a `Defense`.

With a defense (the guard proxy), every chat request is rewritten by `defense.apply` before
it reaches the backend, and the reply starts with the injected assistant prefix: that is
what the defended agent says. Raw `/v1/completions` would bypass the guard, so the proxy
refuses them. Decoding is greedy whatever `temperature` the client sends.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from fastapi import FastAPI
from fastapi import Request as HTTPRequest
from fastapi.responses import JSONResponse, StreamingResponse

from neutrophil.defenses.base import Defense
from neutrophil.errors import UserError
from neutrophil.models.base import Backend, Generation, Request
from neutrophil.serve.batcher import Batcher
from neutrophil.serve.hf_raw import with_raw_prompts
from neutrophil.serve.protocol import (
    BadRequest,
    Call,
    Reply,
    cut_at_stop,
    error_body,
    parse_chat,
    parse_completion,
    sse,
    usage_of,
    visible,
)
from neutrophil.serve.raw import raw_messages

OWNER = "neutrophil"  # `owned_by` in /v1/models: tells OpenAIBackend we continue prefills


def create_app(
    backend: Backend,
    defense: Defense | None = None,
    *,
    model_name: str | None = None,
    max_batch: int = 32,
    batch_wait_ms: float = 5.0,
    workers: int | None = None,
    default_max_tokens: int = 512,
    api_key: str | None = None,
) -> FastAPI:
    """An app serving `backend`. `workers` batches may run at once: 1 for a local model
    (not thread-safe), the backend's `concurrency` for an HTTP one. With `api_key`, /v1/
    requests must send `Authorization: Bearer API_KEY`."""
    raw_backend = with_raw_prompts(backend)
    engine: Backend = raw_backend or backend  # type: ignore[assignment]
    n_workers = workers if workers is not None else getattr(backend, "concurrency", 1)
    batcher = Batcher(engine, max_batch=max_batch, wait_s=batch_wait_ms / 1000, workers=n_workers)
    name = model_name or backend.name
    created = int(time.time())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(title="neutrophil", lifespan=lifespan)
    app.state.batcher = batcher
    app.state.backend = backend
    app.state.defense = defense

    @app.middleware("http")
    async def check_key(http: HTTPRequest, call_next: Any) -> Any:
        guarded = api_key and http.url.path.startswith("/v1/")
        if guarded and http.headers.get("authorization") != f"Bearer {api_key}":
            body = error_body("missing or wrong API key", "authentication_error")
            return JSONResponse(body, status_code=401)
        return await call_next(http)

    @app.exception_handler(BadRequest)
    async def bad_request(_: HTTPRequest, e: BadRequest) -> JSONResponse:
        return JSONResponse(error_body(str(e)), status_code=400)

    @app.exception_handler(UserError)
    async def upstream_error(_: HTTPRequest, e: UserError) -> JSONResponse:
        # A backend's user error here is an upstream server failing (proxy mode).
        return JSONResponse(error_body(str(e), "upstream_error"), status_code=502)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/props")
    async def props() -> Any:
        # As llama.cpp server does: lets a client render our chat template itself.
        template = getattr(getattr(engine, "tokenizer", None), "chat_template", None)
        if not isinstance(template, str):
            return JSONResponse(error_body("no chat template", "not_found_error"), status_code=404)
        return {"chat_template": template, "model": name}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        entry = {"id": name, "object": "model", "created": created, "owned_by": OWNER}
        return {"object": "list", "data": [entry]}

    @app.post("/v1/chat/completions")
    async def chat_completions(http: HTTPRequest) -> Any:
        call = parse_chat(await _json(http), default_max_tokens)
        request = Request(call.messages, prefill=call.prefill, max_new_tokens=call.max_tokens)
        injected = ""
        if defense is not None:
            # In a thread: a defense may read `backend.prefill_mode`, which can probe a server.
            request = (await asyncio.to_thread(defense.apply, backend, [request]))[0]
            if call.prefill == "" or request.prefill.endswith(call.prefill):
                injected = request.prefill[: len(request.prefill) - len(call.prefill)]
        return await _answer(call, request, injected, Reply.new(name, chat=True))

    @app.post("/v1/completions")
    async def completions(http: HTTPRequest) -> Any:
        call = parse_completion(await _json(http), default_max_tokens)
        if defense is not None:
            message = "the guard proxy serves /v1/chat/completions only"
            return JSONResponse(error_body(message, "permission_error"), status_code=403)
        if raw_backend is None:
            raise BadRequest(f"{type(backend).__name__} takes chat messages only")
        assert call.raw_prompt is not None
        request = Request(raw_messages(call.raw_prompt), max_new_tokens=call.max_tokens)
        return await _answer(call, request, "", Reply.new(name, chat=False))

    async def _answer(call: Call, request: Request, injected: str, reply: Reply) -> Any:
        if call.stream:
            prompt_tokens = _prompt_tokens(engine, request) if call.continuous_usage else None
            events = _stream(batcher, call, request, injected, reply, prompt_tokens)
            return StreamingResponse(events, media_type="text/event-stream")
        if call.stop:
            request = replace(request, stop_when=_stop_checker(len(request.prefill), call.stop))
        gen = await batcher.submit(request)
        text, hit = cut_at_stop(gen.text, call.stop)
        return reply.full(injected + text, gen, _finish(gen, request, hit))

    return app


async def _json(http: HTTPRequest) -> Any:
    try:
        return await http.json()
    except ValueError:
        raise BadRequest("the request body is not valid JSON") from None


def _prompt_tokens(engine: Backend, request: Request) -> int | None:
    """Prompt length before generating (for per-chunk usage), where the backend can tell."""
    render = getattr(engine, "render", None)
    tokenizer = getattr(engine, "tokenizer", None)
    if render is None or tokenizer is None:
        return None
    text = render(request.messages, request.prefill)
    return len(tokenizer(text, add_special_tokens=False).input_ids)


def _stop_checker(prefill_len: int, stop: tuple[str, ...]):
    return lambda text: cut_at_stop(text[prefill_len:], stop)[1]


def _finish(gen: Generation, request: Request, hit_stop: bool) -> str:
    at_budget = gen.generated_tokens >= request.max_new_tokens
    return "length" if at_budget and not hit_stop and not gen.stopped_early else "stop"


async def _stream(
    batcher: Batcher,
    call: Call,
    request: Request,
    injected: str,
    reply: Reply,
    prompt_tokens: int | None = None,
) -> AsyncIterator[str]:
    """SSE: text is streamed as the backend generates it (its `stop_when` hook sees every
    step); when the client goes away, the hook ends this row so the backend stops early.
    With `prompt_tokens` known, every chunk carries usage so far (one step = one token)."""
    loop = asyncio.get_running_loop()
    texts: asyncio.Queue[str] = asyncio.Queue()
    steps = 0
    gone = threading.Event()
    prefill_len = len(request.prefill)

    def stop_when(full: str) -> bool:  # runs in the backend's thread, once per step
        if gone.is_set():
            return True
        text = full[prefill_len:]
        loop.call_soon_threadsafe(texts.put_nowait, text)
        return bool(call.stop) and cut_at_stop(text, call.stop)[1]

    task = asyncio.ensure_future(batcher.submit(replace(request, stop_when=stop_when)))
    emitted = ""
    try:
        yield reply.chunk(injected or None, role=True) if reply.chat else reply.chunk(injected)
        while not task.done():
            getter = asyncio.ensure_future(texts.get())
            await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if not getter.done():
                getter.cancel()
                break
            steps += 1
            shown = visible(getter.result(), call.stop)
            if len(shown) > len(emitted) and shown.startswith(emitted):
                so_far = usage_of(prompt_tokens, steps) if prompt_tokens is not None else None
                yield reply.chunk(shown[len(emitted) :], so_far=so_far)
                emitted = shown
        try:
            gen = task.result()
        except UserError as e:
            yield sse(error_body(str(e), "upstream_error"))
            return
        text, hit = cut_at_stop(gen.text, call.stop)
        if len(text) > len(emitted) and text.startswith(emitted):
            yield reply.chunk(text[len(emitted) :])
        yield reply.chunk(finish=_finish(gen, request, hit))
        if call.include_usage:
            yield reply.usage_chunk(gen)
        yield "data: [DONE]\n\n"
    finally:
        gone.set()  # the client left (or we are done): the backend stops this row
        task.cancel()
