"""The OpenAI-compatible app: `POST /v1/chat/completions`, `POST /v1/completions`,
`GET /v1/models`, `GET /health`, `GET /metrics` (Prometheus counters of answers and
tokens), over any `Backend`, optionally behind a `Defense`.

With a defense (the guard proxy), every chat request is rewritten by `defense.apply` before
it reaches the backend, and the reply starts with the injected assistant prefix: that is
what the defended agent says. Raw `/v1/completions` would bypass the guard, so the proxy
refuses them; a raw prompt travels as `Request.raw_prompt`, never as a chat role.
Decoding is greedy whatever `temperature` the client sends.

Errors: a bad request is a 400 naming the field or limit, an unknown model a 404, a
`BackendError` (the model server failed) a 502, a `UserError` from the backend (the upstream
refused this request) a 400, a request caught by a shutdown a 503.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from fastapi import Request as HTTPRequest
from fastapi.responses import JSONResponse, Response, StreamingResponse

from neutrophil.defenses.base import Defense
from neutrophil.errors import BackendError, UserError
from neutrophil.models.base import Backend, Request
from neutrophil.serve.answer import Stream, complete
from neutrophil.serve.auth import OPEN_PATHS, KeyGate
from neutrophil.serve.batcher import Batcher, ShuttingDown
from neutrophil.serve.limits import (
    Limits,
    check_max_tokens,
    check_prompt_chars,
    token_budget,
)
from neutrophil.serve.memory import FLAG_HEADER, FlaggedLog, client_flagged
from neutrophil.serve.protocol import (
    BadRequest,
    Call,
    Reply,
    error_body,
    parse_chat,
    parse_completion,
    read_json,
)

if TYPE_CHECKING:  # steering imports torch, which the guard proxy never loads
    from neutrophil.serve.steering import Steering

OWNER = "neutrophil"  # `owned_by` in /v1/models: tells OpenAIBackend we continue prefills


def create_app(
    backend: Backend,
    defense: Defense | None = None,
    *,
    model_name: str | None = None,
    aliases: Iterable[str] = (),
    max_batch: int = 32,
    workers: int | None = None,
    default_max_tokens: int | None = None,
    api_key: str | None = None,
    limits: Limits | None = None,
    stall_s: float = 60.0,
    steering: Steering | None = None,
    record: FlaggedLog | None = None,
) -> FastAPI:
    """An app serving `backend` through `backend.continuous()`, an engine that queues
    (llama.cpp, `ContinuousHF` for a transformers model, else `models.batching.Batched`):
    each request goes to it as it comes. A remote backend gets one request per call,
    `workers` calls at once (default: its `capacity`). With `api_key`, every path
    but /health needs `Authorization: Bearer API_KEY`. With `steering` (`neutrophil studio`),
    requests may carry the `neutrophil` extension field (`serve/steering.py`), rows with
    different mixes decode in one batch (per-row edits), and the studio page is
    served at `/` (`serve/studio.py`; the page itself is open, its API calls need the key).
    With `record`, chat requests the guard's gate flags, or a client marks, are kept as
    tasks (`serve/memory.py`)."""
    limits = limits or Limits()
    guard = defense.name if defense is not None else ""
    gated = guard == "gated-prefix"
    if default_max_tokens is not None:
        limits = replace(limits, default_max_tokens=default_max_tokens)
    # A gate reads the model in request threads: under one lock with the decoding steps
    # (when it is the model decoded) and with each other (its hooks are the model's).
    model_lock = steering.lock if steering is not None else threading.RLock()
    if steering is not None:
        engine = steering.engine(backend, min(max_batch, backend.capacity))
    elif guard in ("gated-prefix", "gated-steer"):
        from neutrophil.models.shared import shared_model_engine

        engine = shared_model_engine(backend, min(max_batch, backend.capacity), model_lock)
    else:
        engine = backend.continuous(max_batch)
    batcher = Batcher(
        engine,
        workers=workers if workers is not None else (backend.capacity if backend.remote else 1),
        stall_s=stall_s,
    )
    name = model_name or backend.name
    names = {name, backend.name, *aliases}
    created = int(time.time())
    token_chars = backend.max_token_chars()
    context = engine.context_length or backend.context_length

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        yield
        await batcher.stop()
        if engine is not backend:  # ours (ContinuousHF); a backend belongs to its caller
            await asyncio.to_thread(engine.close)

    # The API description stays off behind the guard: it helps nobody but a prober.
    docs = {} if defense is None else {"docs_url": None, "redoc_url": None, "openapi_url": None}
    app = FastAPI(title="neutrophil", lifespan=lifespan, **docs)
    app.state.batcher = batcher
    app.state.backend = backend
    app.state.engine = engine
    app.state.defense = defense
    app.state.limits = limits
    app.state.steering = steering
    open_paths = OPEN_PATHS
    if steering is not None:
        from neutrophil.serve import studio

        studio.mount(app, backend, steering)
        open_paths = OPEN_PATHS | studio.PAGE_PATHS
    if api_key:
        app.add_middleware(KeyGate, key=api_key, open_paths=open_paths)

    @app.exception_handler(BadRequest)
    async def bad_request(_: HTTPRequest, e: BadRequest) -> JSONResponse:
        return JSONResponse(e.body(), status_code=e.status)

    @app.exception_handler(BackendError)
    async def upstream_error(_: HTTPRequest, e: BackendError) -> JSONResponse:
        return JSONResponse(error_body(str(e), "upstream_error"), status_code=502)

    @app.exception_handler(UserError)
    async def refused_upstream(_: HTTPRequest, e: UserError) -> JSONResponse:
        # The backend refused this request (e.g. the upstream said 400): the client's to fix.
        return JSONResponse(error_body(str(e)), status_code=400)

    @app.exception_handler(ShuttingDown)
    async def shutting_down(_: HTTPRequest, e: ShuttingDown) -> JSONResponse:
        body = error_body(str(e), "service_unavailable")
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def internal(_: HTTPRequest, e: Exception) -> JSONResponse:
        message = f"internal error ({type(e).__name__})"
        return JSONResponse(error_body(message, "server_error"), status_code=500)

    @app.get("/health")
    async def health() -> Any:
        ok, why = batcher.health()
        if ok:
            return {"status": "ok"}
        return JSONResponse({"status": "unhealthy", "reason": why}, status_code=503)

    @app.get("/metrics")
    async def metrics() -> Response:
        # Prometheus text format, as vLLM and llama.cpp server publish theirs.
        counters = {
            "requests": ("answers the backend produced", batcher.answered),
            "prompt_tokens": ("prompt tokens of those answers", batcher.prompt_tokens),
            "generation_tokens": ("tokens the backend generated", batcher.generated_tokens),
        }
        lines = []
        for key, (help_text, value) in counters.items():
            metric = f"neutrophil_{key}_total"
            lines += [
                f"# HELP {metric} {help_text}",
                f"# TYPE {metric} counter",
                f"{metric} {value}",
            ]
        return Response("\n".join(lines) + "\n", media_type="text/plain; version=0.0.4")

    @app.get("/props")
    async def props() -> Any:
        # As llama.cpp server does: lets a client render our chat template itself (for raw
        # completions, which the guard refuses: so it is off there).
        template = backend.chat_template
        if defense is not None or template is None:
            return JSONResponse(error_body("no chat template", "not_found_error"), status_code=404)
        return {"chat_template": template, "model": name}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        entry = {"id": name, "object": "model", "created": created, "owned_by": OWNER}
        return {"object": "list", "data": [entry]}

    @app.post("/v1/chat/completions")
    async def chat_completions(http: HTTPRequest) -> Any:
        body = await read_json(http, limits.max_body_bytes)
        call = _checked(parse_chat(body, max_messages=limits.max_messages))
        request = Request(call.messages, prefill=call.prefill, max_new_tokens=1)
        if defense is not None:
            # In a thread: a defense may read `backend.prefill_mode`, which can probe a server.
            request = await asyncio.to_thread(_defended, defense, backend, request, model_lock)
        if record is not None:
            # A gated guard injects its prefix only where the gate fires.
            source = "gate" if gated and request.injected else None
            if source is None and client_flagged(http.headers.get(FLAG_HEADER)):
                source = "client"
            if source is not None:
                await asyncio.to_thread(record.add, call.messages, source)
        request = await _steered(body, request)
        return await _answer(http, call, request, request.injected, Reply.new(name, chat=True))

    @app.post("/v1/completions")
    async def completions(http: HTTPRequest) -> Any:
        if defense is not None:
            message = "the guard proxy serves /v1/chat/completions only"
            raise BadRequest(message, status=403, kind="permission_error")
        body = await read_json(http, limits.max_body_bytes)
        call = _checked(parse_completion(body))
        if not backend.takes_raw_prompts:
            raise BadRequest(f"{type(backend).__name__} takes chat messages only")
        request = Request(messages=(), raw_prompt=call.raw_prompt, max_new_tokens=1)
        request = await _steered(body, request)
        return await _answer(http, call, request, "", Reply.new(name, chat=False))

    async def _steered(body: Any, request: Request) -> Request:
        """The `neutrophil` extension field as the request's edit and defenses."""
        if steering is None:
            if isinstance(body, dict) and body.get("neutrophil") is not None:
                raise BadRequest(
                    "neutrophil: this server does not steer (start it with `neutrophil studio`)",
                    param="neutrophil",
                )
            return request
        ask = steering.parse(body)
        if ask is None:
            return request
        # In a thread: a gated defense reads the model.
        return await asyncio.to_thread(steering.attach, backend, ask, request)

    def _checked(call: Call) -> Call:
        if call.model is not None and call.model not in names:
            raise BadRequest(
                f"The model `{call.model}` does not exist (this server serves `{name}`)",
                param="model",
                code="model_not_found",
                status=404,
            )
        check_max_tokens(call, limits)
        return call

    async def _answer(
        http: HTTPRequest, call: Call, request: Request, injected: str, reply: Reply
    ) -> Any:
        n_prompt = None
        if not backend.remote:  # a server counts its own prompts
            # Refuse what is surely too long before tokenising it (a 1 MB prompt took
            # 2 s of CPU and 150 MB to count).
            check_prompt_chars(request, call, limits, token_chars)
            n_prompt = await asyncio.to_thread(_count_prompt, engine, request)
        budget = token_budget(call, n_prompt, context, limits)
        request = replace(request, max_new_tokens=budget)
        if call.stream:
            answer = Stream(batcher, call, request, injected, reply, n_prompt)
            if not await answer.open(http):
                return Response(status_code=499)  # the client left before the first token
            return StreamingResponse(answer.events(), media_type="text/event-stream")
        return await complete(http, batcher, call, request, injected, reply)

    return app


def _defended(
    defense: Defense, backend: Backend, request: Request, lock: threading.RLock
) -> Request:
    """`request` rewritten by the guard's defense, under the model lock (a gate reads the
    model; blocking, so call it in a thread)."""
    with lock:
        return defense.apply(backend, [request])[0]


def _count_prompt(engine: Backend, request: Request) -> int | None:
    """The prompt tokens of `request` as the engine renders and counts it."""
    text = engine.prompt_text(request)
    return None if text is None else engine.count_tokens(text)
