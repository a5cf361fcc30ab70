"""One long request must not stall the others, and a departed client's row must stop.

A long request (A) runs; a short one (B) arrives while A is generating; B must come back
after its own few steps while A is still running (rows join and leave the batch every
step), and once A's client hangs up, A's row must end at the next step. Nothing here
measures time: the test holds A at fixed points of its generation (inside its `stop_when`,
which the engine calls every step) and asserts on the order of completions and on tokens.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from concurrent.futures import Future
from dataclasses import replace
from urllib.parse import urlsplit

import httpx
import pytest
import torch

from neutrophil.models import load_backend
from neutrophil.models.base import Generation, Request, user_message
from neutrophil.models.continuous import ContinuousHF
from neutrophil.serve.app import create_app
from neutrophil.serve.runner import BackgroundServer

LONG = 120  # A's budget: far more steps than B needs
SHORT = 8


class Held:
    """An engine (`submit_many`) whose first request is held at fixed points of its generation:
    at its 3rd step until the second request has been submitted, and, once B is answered,
    until the test has closed A's connection and the server has noticed."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.submitted = 0
        self.second_in = threading.Event()
        self.b_done = threading.Event()
        self.client_closed = threading.Event()
        self.a_steps = 0  # A's generated tokens: the engine calls its stop_when once per token
        self.order: list[int] = []  # request numbers, in the order they finished
        self.results: dict[int, Future[Generation]] = {}

    def __getattr__(self, name: str):  # name, prefill_mode, prompt_text, count_tokens, ...
        return getattr(self.engine, name)

    def continuous(self, max_rows: int):  # the server drives this wrapper, not the engine
        return self

    def submit_many(self, requests, *, progress=False) -> list[Future[Generation]]:
        return [self.submit(r) for r in requests]

    def submit(self, request: Request) -> Future[Generation]:
        self.submitted += 1
        k = self.submitted
        if k == 1:
            request = replace(request, stop_when=self._held(request.stop_when))
        future = self.engine.submit_many([request])[0]
        self.results[k] = future
        future.add_done_callback(lambda _: self.order.append(k))
        if k == 2:
            self.second_in.set()
        return future

    def _held(self, server_stop):
        calls = 0

        def stop(text: str) -> bool:
            nonlocal calls
            calls += 1
            self.a_steps = calls
            if calls == 3:
                assert self.second_in.wait(120), "B never reached the engine"
            if self.b_done.is_set():
                assert self.client_closed.wait(120), "the test never closed A's connection"
                deadline = time.monotonic() + 120
                while not server_stop(text):  # the server notices the hang-up asynchronously
                    assert time.monotonic() < deadline, "the server never noticed the hang-up"
                    time.sleep(0.01)
                return True
            return server_stop(text)

        return stop


def engine_for(kind: str, request: pytest.FixtureRequest | None = None):
    """(backend, engine): the tiny model under ContinuousHF, or the embedded model on
    llama.cpp (the session's `embedded_llama`, 4 sequence slots), its own engine."""
    torch.set_num_threads(1)
    if kind == "hf":
        backend = load_backend("tiny", batch_size=4)
        return backend, ContinuousHF(backend, max_rows=4)
    assert request is not None
    backend = request.getfixturevalue("embedded_llama")
    return backend, backend


def idle(engine) -> bool:
    scheduler = getattr(engine, "scheduler", None)  # llama.cpp
    return not (scheduler.busy() if scheduler is not None else engine.busy())


def raw_post(url: str, body: dict) -> socket.socket:
    """POST over a bare socket the test can close whenever it likes (a client hanging up)."""
    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port))
    data = json.dumps(body).encode()
    head = (
        f"POST {parts.path}/chat/completions HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    )
    sock.sendall(head.encode() + data)
    return sock


A_MSGS = [{"role": "user", "content": "Count from 1 to 500, separated by commas."}]
B_MSGS = [{"role": "user", "content": "Name a colour."}]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
@pytest.mark.parametrize("kind", ["hf", pytest.param("llama", marks=pytest.mark.integration)])
def test_long_request_with_departing_client_does_not_stall_a_short_one(kind, stream, request):
    backend, engine = engine_for(kind, request)
    try:
        # Preconditions: alone, A runs its whole budget (no EOS) and B its 8 tokens.
        a_alone, b_alone = backend.generate(
            [
                Request(tuple(A_MSGS), max_new_tokens=LONG),
                Request(tuple(B_MSGS), max_new_tokens=SHORT),
            ]
        )
        assert a_alone.generated_tokens == LONG
        held = Held(engine)
        app = create_app(held)
        with BackgroundServer(app) as url:
            a_sock = raw_post(url, {"messages": A_MSGS, "max_tokens": LONG, "stream": stream})
            deadline = time.monotonic() + 120
            while held.submitted < 1:  # A is in the engine before B is sent
                assert time.monotonic() < deadline, "A never reached the engine"
                time.sleep(0.01)
            b = httpx.post(
                url + "/chat/completions",
                json={"messages": B_MSGS, "max_tokens": SHORT},
                timeout=120,
            )
            assert b.status_code == 200
            assert b.json()["usage"]["completion_tokens"] == b_alone.generated_tokens
            assert held.order == [2]  # B is answered while A still runs
            held.b_done.set()
            a_sock.close()  # A's client hangs up
            held.client_closed.set()
            deadline = time.monotonic() + 120
            while not idle(engine):  # the row leaves the engine at its next step
                assert time.monotonic() < deadline, "A's row never left the engine"
                time.sleep(0.01)
    finally:
        if engine is not backend:  # ours; the llama.cpp backend is the session's
            engine.close()
    # A's row ended when its client left (its stop rule fired, or the server cancelled it
    # before its next step), not at its budget.
    assert held.order == [2, 1]
    assert held.a_steps < LONG
    if kind == "hf":
        # B's row took its own steps (one prefill chunk, then one step per token), not A's.
        b_log = next(f for f in engine.log if f.request.messages == tuple(B_MSGS))
        a_log = next(f for f in engine.log if f.request.messages == tuple(A_MSGS))
        assert b_log.ended_step - b_log.admitted_step <= SHORT + 1
        assert a_log.ended_step > b_log.ended_step


def test_rows_of_a_batch_leave_as_they_end():
    """ContinuousHF: a short row that joins a long one finishes first; the long one goes on."""
    backend, engine = engine_for("hf")
    started = threading.Event()
    go = threading.Event()

    def hold_once(text: str) -> bool:
        if not started.is_set():
            started.set()
            assert go.wait(120)
        return False

    try:
        long = engine.submit_many(
            [Request(user_message("a"), max_new_tokens=60, stop_when=hold_once)]
        )[0]
        assert started.wait(120)
        short = engine.submit_many([Request(user_message("b"), max_new_tokens=5)])[0]
        go.set()
        assert short.result(120).generated_tokens <= 5
        assert not long.done() or long.result().generated_tokens == 60
        assert long.result(120).generated_tokens <= 60
    finally:
        engine.close()
    log = list(engine.log)
    assert [f.generation.generated_tokens <= 5 for f in log] == [True, False]  # short first


def test_a_long_row_does_not_pad_the_short_ones():
    """The long row decodes in its own lane: the short rows' cache stays their length."""
    backend, engine = engine_for("hf")
    long_request = Request(user_message("a"), max_new_tokens=300)
    assert backend.generate([long_request])[0].generated_tokens == 300  # no early EOS
    shorts_in = threading.Event()
    widths: list[dict[int, int]] = []  # lane bound -> cache width, at each short step

    def wait_for_shorts(text: str) -> bool:
        assert shorts_in.wait(120)
        return False

    def record(text: str) -> bool:  # runs in the engine thread: its lanes hold still
        widths.append({b: lane.mask.shape[1] for b, lane in engine._lanes.items() if lane.rows})
        return False

    try:
        long = engine.submit_many([replace(long_request, stop_when=wait_for_shorts)])[0]
        shorts = [
            engine.submit_many(
                [Request(user_message(f"b{i}"), max_new_tokens=5, stop_when=record)]
            )[0]
            for i in range(3)
        ]
        shorts_in.set()
        assert all(f.result(120).generated_tokens <= 5 for f in shorts)
        assert long.result(120).generated_tokens == 300
    finally:
        engine.close()
    # (A short row's first call comes from its prefill, before it joins its lane.)
    assert any(len(w) == 2 for w in widths)  # the long row's lane and the short rows' lane
    assert all(w[256] <= 256 for w in widths if 256 in w)  # never padded to the long row
