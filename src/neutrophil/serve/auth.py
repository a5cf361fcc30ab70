"""API-key gate: with a key required, only `/health` answers without it.

A plain ASGI middleware (not Starlette's `BaseHTTPMiddleware`, which wraps `receive` and
hides a client's disconnect from the handlers). The key is compared in constant time, and
the scheme name is case-insensitive (`Bearer`, `bearer`), as RFC 7235 says.
"""

from __future__ import annotations

import hmac
from typing import Any

from starlette.responses import JSONResponse

from neutrophil.serve.protocol import error_body

OPEN_PATHS = frozenset({"/health"})


def authorized(header: str | None, key: str) -> bool:
    scheme, _, token = (header or "").strip().partition(" ")
    token_ok = hmac.compare_digest(token.strip().encode(), key.encode())
    return scheme.lower() == "bearer" and token_ok


class KeyGate:
    def __init__(self, app: Any, key: str, open_paths: frozenset[str] = OPEN_PATHS) -> None:
        self.app = app
        self.key = key
        self.open_paths = open_paths  # the studio adds its page (its API calls need the key)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            return await self.app(scope, receive, send)
        header = dict(scope.get("headers") or []).get(b"authorization")
        if authorized(header.decode("latin-1") if header else None, self.key):
            return await self.app(scope, receive, send)
        body = error_body("missing or wrong API key", "authentication_error")
        response = JSONResponse(body, status_code=401, headers={"WWW-Authenticate": "Bearer"})
        await response(scope, receive, send)
