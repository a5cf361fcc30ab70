"""`neutrophil serve` as a process: bad settings are one line and exit 2 before anything
loads, and SIGTERM drains and exits 0 even with a long row running."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading

import httpx
import pytest
from servers import free_port, wait_ready

SERVE = [sys.executable, "-m", "neutrophil.cli", "serve"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def run_serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SERVE, "--model", "tiny", *args], env=ENV, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--batch-size", "0"], "--batch-size"),
        (["--max-tokens", "0"], "--max-tokens"),
        (["--max-tokens", "4000"], "--max-tokens-limit"),
        (["--max-prompt-tokens", "-1"], "--max-prompt-tokens"),
        (["--threads", "0"], "--threads"),
        (["--port", "0"], "--port"),
        (["--port", "70000"], "--port"),
        (["--port", "-5"], "--port"),
        (["--port", "http"], "--port"),
        (["--host", "192.0.2.1"], "192.0.2.1"),  # TEST-NET: not an address of this machine
    ],
)
def test_bad_settings_are_one_line_exit_2(args, says):
    done = run_serve(*args)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0], done.stderr


def test_port_in_use_is_one_line_exit_2():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_serve("--port", str(port))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"127.0.0.1:{port}" in lines[0], done.stderr


def test_sigterm_drains_and_exits_0_with_a_long_row_running():
    port = free_port()
    cmd = [*SERVE, "--model", "tiny", "--port", str(port), "--threads", "1"]
    cmd += ["--max-tokens-limit", "2000", "--drain-seconds", "1"]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    root = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, root)
        first_chunk = threading.Event()
        seen: list[str] = []

        def long_stream() -> None:  # a row far longer than the drain allows
            body = {"messages": [{"role": "user", "content": "Count."}], "max_tokens": 2000}
            body["stream"] = True
            try:
                with httpx.stream(
                    "POST", root + "/v1/chat/completions", json=body, timeout=120
                ) as r:
                    for line in r.iter_lines():
                        seen.append(line)
                        first_chunk.set()
            except httpx.HTTPError:
                pass
            first_chunk.set()

        client = threading.Thread(target=long_stream, daemon=True)
        client.start()
        assert first_chunk.wait(120)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0  # bounded: the drain cuts the row, not its budget
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    client.join(30)
    events = [json.loads(line[5:]) for line in seen if line.startswith("data: {")]
    # The streamed row was cut by the drain: it did not run its 2000 tokens.
    assert events and not any(e.get("usage", {}).get("completion_tokens") == 2000 for e in events)
    assert "Traceback" not in proc.stderr.read().decode()
