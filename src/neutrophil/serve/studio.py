"""The equalizer studio's page and its endpoints, mounted on a steering server.

- `GET /` and `GET /studio/{studio.js,studio.css}`: the page, files inside the package
  (no CDN, no build step). Open without a key: they hold nothing secret, and a browser
  cannot send a header to load a page; every API call the page makes needs the key.
- `GET /studio/api/state`: the concepts (slider names), the strength range, the channel
  modes (add, ablate, clamp), each concept's fluent limit, the defenses.
- `POST /studio/api/meter` (a chat body): the harm probe's score at the last prompt token
  and whether the gate fires.
- `POST /studio/api/trace` (a chat body with `answer` and the `neutrophil` field): the
  concept meter, each concept's component at every answer token, replayed under the
  field's sliders (`Steering.trace`); the page draws it as a sparkline under each slider.
- `POST /studio/api/concepts` `{"name", "positive": [...], "negative": [...]}`: a new
  concept extracted on the loaded model (mean difference at the last token, calibrated on
  the same layers as the built-ins); its slider appears on the page.
- `GET /studio/api/concepts/NAME.safetensors|.gguf`: a concept's vector as a file (the
  GGUF one is a llama.cpp control vector).
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi import Request as HTTPRequest
from fastapi.responses import Response

from neutrophil.internals.equalizer import MODES
from neutrophil.models.base import Request
from neutrophil.serve.protocol import BadRequest, parse_chat, read_json
from neutrophil.serve.steering import DEFENSES, GATED_STEER, LIMIT, Steering

STATIC = {
    "studio.js": "text/javascript; charset=utf-8",
    "studio.css": "text/css; charset=utf-8",
}
PAGE_PATHS = frozenset({"/", *(f"/studio/{name}" for name in STATIC)})
NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,31}")
MAX_SENTENCES = 64
MAX_SENTENCE_CHARS = 2000
# The page may not load anything from elsewhere, nor run inline script.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def _static(name: str) -> bytes:
    return (resources.files("neutrophil.serve") / "static" / name).read_bytes()


def mount(app: FastAPI, backend: Any, steering: Steering) -> None:

    limit = app.state.limits.max_body_bytes
    headers = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff"}

    @app.get("/", include_in_schema=False)
    async def page() -> Response:
        return Response(_static("studio.html"), media_type="text/html", headers=headers)

    @app.get("/studio/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in STATIC:
            raise BadRequest(f"no such file: {name[:40]}", status=404, kind="not_found_error")
        return Response(_static(name), media_type=STATIC[name], headers=headers)

    @app.get("/studio/api/state")
    async def state() -> dict[str, Any]:
        return {
            "model": backend.name,
            "concepts": list(steering.concepts),
            "limit": LIMIT,
            "modes": list(MODES),
            # per concept, the strength (before rescaling) that slider 4 is: its last
            # fluent setting on this model (None: not calibrated, e.g. a vector file)
            "fluent_limits": {
                name: steering.board.vector(name).metadata.get("fluent_limit")
                for name in steering.concepts
            },
            "defenses": [d for d in DEFENSES if d != "prefix" or steering.prefix],
        }

    @app.post("/studio/api/meter")
    async def meter(http: HTTPRequest) -> dict[str, Any]:
        call = parse_chat(await read_json(http, limit))
        request = Request(call.messages, max_new_tokens=1)
        return await asyncio.to_thread(steering.meter, backend, request)

    @app.post("/studio/api/trace")
    async def trace(http: HTTPRequest) -> dict[str, Any]:
        body = await read_json(http, limit)
        answer = body.get("answer") if isinstance(body, dict) else None
        if not isinstance(answer, str) or not answer:
            raise BadRequest("answer: the answer text to read (a non-empty string)", param="answer")
        call = parse_chat({k: v for k, v in body.items() if k not in ("answer", "neutrophil")})
        ask = steering.parse(body)
        request = Request(call.messages, max_new_tokens=1)
        return await asyncio.to_thread(steering.trace, backend, request, answer, ask)

    @app.post("/studio/api/concepts")
    async def new_concept(http: HTTPRequest) -> dict[str, Any]:
        name, positive, negative = _concept_body(await read_json(http, limit))
        await asyncio.to_thread(steering.learn, backend, name, positive, negative)
        return {"name": name, "concepts": list(steering.concepts)}

    @app.get("/studio/api/concepts/{file}")
    async def download(file: str) -> Response:
        name, _, kind = file.rpartition(".")
        if name not in steering.concepts or kind not in ("safetensors", "gguf"):
            raise BadRequest(
                f"no such vector file: {file[:60]} (NAME.safetensors or NAME.gguf)",
                status=404,
                kind="not_found_error",
            )
        data = await asyncio.to_thread(_vector_file, steering, name, kind)
        disposition = {"Content-Disposition": f'attachment; filename="{name}.{kind}"'}
        return Response(data, media_type="application/octet-stream", headers=disposition)


def _concept_body(body: Any) -> tuple[str, list[str], list[str]]:
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    name = body.get("name")
    if not isinstance(name, str) or not NAME.fullmatch(name) or name == GATED_STEER:
        raise BadRequest("name: a letter, then up to 31 letters, digits, '-' or '_'", param="name")
    lists = []
    for key in ("positive", "negative"):
        items = body.get(key)
        if (
            not isinstance(items, list)
            or not 1 <= len(items) <= MAX_SENTENCES
            or not all(isinstance(t, str) and t.strip() for t in items)
            or any(len(t) > MAX_SENTENCE_CHARS for t in items)
        ):
            raise BadRequest(
                f"{key}: a list of 1 to {MAX_SENTENCES} non-empty sentences "
                f"(at most {MAX_SENTENCE_CHARS} characters each)",
                param=key,
            )
        lists.append([t.strip() for t in items])
    return name, lists[0], lists[1]


def _vector_file(steering: Steering, name: str, kind: str) -> bytes:
    from neutrophil.internals.gguf_io import export_gguf

    vector = steering.board.vector(name)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.{kind}"
        if kind == "gguf":
            export_gguf(vector, path)
        else:
            vector.save(path)
        return path.read_bytes()
