"""Run an app with uvicorn: in the foreground (the CLI) or in a background thread."""

from __future__ import annotations

import threading
import time
from typing import Any

import uvicorn


def serve_forever(
    app: Any, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info"
) -> None:
    uvicorn.run(app, host=host, port=port, log_level=log_level)


class BackgroundServer:
    """`with BackgroundServer(app) as url:` serves `app` on a free port of 127.0.0.1 in a
    thread; `url` is the OpenAI base URL (`http://127.0.0.1:PORT/v1`). Exiting stops it."""

    def __init__(
        self, app: Any, *, host: str = "127.0.0.1", port: int = 0, startup_s: float = 60
    ) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
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
