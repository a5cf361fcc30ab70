"""Run an app with uvicorn: in the foreground (the CLI) or in a background thread.

The CLI binds its socket itself, so a port in use or a host that does not resolve is one
line and exit 2 (uvicorn would log a traceback and exit 3). SIGTERM and Ctrl-C drain: the
listening socket closes, new requests get 503, rows still running after `drain_s` seconds
are cut at their next step, and the process exits 0 a few seconds later at most.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import socket
import threading
import time
from typing import Any

import uvicorn

from neutrophil.errors import UserError


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port), or a one-line UserError saying why not."""
    try:
        infos = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE | socket.AI_ADDRCONFIG
        )
    except (socket.gaierror, UnicodeError) as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise UserError(f"--host {host}: cannot resolve ({reason})") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as e:
        sock.close()
        raise UserError(f"cannot listen on {host}:{port} ({e.strerror or e})") from None
    return sock


class _DrainingServer(uvicorn.Server):
    """uvicorn's server, plus: a shutdown signal starts the batcher's drain at once."""

    def __init__(self, config: uvicorn.Config, app: Any, drain_s: float) -> None:
        super().__init__(config)
        self._app = app
        self._drain_s = drain_s
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: list[socket.socket] | None = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets=sockets)

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        batcher = getattr(getattr(self._app, "state", None), "batcher", None)
        if batcher is not None and self._loop is not None:
            # From a signal handler: only the thread-safe call is safe here.
            self._loop.call_soon_threadsafe(batcher.begin_drain, self._drain_s)


def serve_forever(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
    *,
    drain_s: float = 3.0,
    sock: socket.socket | None = None,
) -> None:
    sock = sock or bind(host, port)
    config = uvicorn.Config(
        app,
        log_level=log_level,
        lifespan="on",
        # After the drain cut every row, answers go out at once; this is the backstop.
        timeout_graceful_shutdown=math.ceil(drain_s) + 2,
        # uvicorn's 5 s closes connections that a busy client is about to reuse (it sees a
        # reset); agents keep connections open between turns.
        timeout_keep_alive=30,
    )
    server = _DrainingServer(config, app, drain_s)
    # uvicorn re-raises the signal that stopped it once it is done; with these handlers in
    # place that lands here and the process returns 0 instead of dying by the signal.
    handled = (signal.SIGTERM, signal.SIGINT)
    on_main = threading.current_thread() is threading.main_thread()
    previous = {sig: signal.signal(sig, _after_shutdown) for sig in handled} if on_main else {}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        with contextlib.suppress(OSError):
            sock.close()


def _after_shutdown(sig: int, frame: Any) -> None:
    """The stopping signal, re-raised by uvicorn after its graceful shutdown: nothing to do."""


class BackgroundServer:
    """`with BackgroundServer(app) as url:` serves `app` on a free port of 127.0.0.1 in a
    thread; `url` is the OpenAI base URL (`http://127.0.0.1:PORT/v1`). Exiting stops it."""

    def __init__(
        self, app: Any, *, host: str = "127.0.0.1", port: int = 0, startup_s: float = 60
    ) -> None:
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self.startup_s = startup_s
        self.thread = threading.Thread(target=self.server.run, name="neutrophil-serve", daemon=True)
        self.url = ""

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + self.startup_s
        # Poll for readiness: uvicorn sets `started` once the socket listens.
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}/v1"
        return self.url

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
