"""Helpers for tests that start a real server process on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

# One thread per process: the servers and the test share two cores.
QUIET_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(
    proc: subprocess.Popen,
    url: str,
    *,
    timeout: float = 180,
    path: str = "/health",
    log: Path | None = None,
) -> None:
    """Poll `url` + `path` until it answers 200; fail with the server's output (its stderr,
    or the tail of `log`) if it exits."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            if log is not None:
                raise AssertionError(f"{proc.args!r} exited:\n{log.read_text()[-3000:]}")
            err = proc.stderr.read() if proc.stderr else ""
            raise AssertionError(err.decode() if isinstance(err, bytes) else err)
        try:
            if httpx.get(url + path, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert time.monotonic() < deadline, f"{url} did not come up"
        time.sleep(0.1)


class ServerProcess:
    """A server command run on a free port of 127.0.0.1, its output in `log`; `start()`
    waits until `ready_path` answers, `kill()` ends it at once (SIGKILL), `stop()` politely.
    `argv` holds `{port}` where the port goes."""

    def __init__(
        self,
        argv: list[str],
        log: Path,
        *,
        ready_path: str = "/v1/models",
        env: dict[str, str] | None = None,
        startup_s: float = 300,
    ) -> None:
        self.argv = argv
        self.log = log
        self.ready_path = ready_path
        self.env = env or QUIET_ENV
        self.startup_s = startup_s
        self.port = free_port()
        self.root = f"http://127.0.0.1:{self.port}"
        self.url = self.root + "/v1"
        self.proc: subprocess.Popen | None = None

    def start(self) -> ServerProcess:
        argv = [a.format(port=self.port) for a in self.argv]
        with self.log.open("ab") as out:
            # A session of its own: stop() and kill() reach the workers it starts (vLLM's).
            self.proc = subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, env=self.env, start_new_session=True
            )
        wait_ready(self.proc, self.root, timeout=self.startup_s, path=self.ready_path, log=self.log)
        return self

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.proc is not None:
            self._signal(signal.SIGKILL)
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None:
            self._signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(30)
            self.kill()  # whatever of its group is left

    def _signal(self, sig: int) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)


def neutrophil_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "neutrophil.cli", *args]
