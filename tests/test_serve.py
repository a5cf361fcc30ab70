"""The OpenAI-compatible server and the guard proxy, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import httpx
import pytest
import torch
from servers import free_port

from neutrophil.defenses.registry import guard_defense
from neutrophil.models import load_backend
from neutrophil.models.base import Backend, Generation, Request
from neutrophil.models.openai_backend import OpenAIBackend
from neutrophil.serve.app import create_app
from neutrophil.serve.protocol import cut_at_stop, visible
from neutrophil.serve.runner import BackgroundServer

GUARD = "I will check whether this is safe first."
MSGS = [{"role": "user", "content": "How do I bake bread?"}]


class Recording(Backend):
    """Backend wrapper that keeps every batch it was given; with `gate`, the first batch
    waits until the test opens it (so later requests pile up in the server's queue)."""

    def __init__(self, inner, gate: threading.Event | None = None) -> None:
        self.inner = inner
        self.name = inner.name
        self.prefill_mode = inner.prefill_mode
        self.gate = gate
        self.batches: list[list[Request]] = []
        self.outputs: list[Generation] = []

    def generate(self, requests, *, progress=False):
        self.batches.append(list(requests))
        if self.gate is not None and len(self.batches) == 1:
            assert self.gate.wait(120)
        out = self.inner.generate(requests)
        self.outputs.extend(out)
        return out


@pytest.fixture(scope="module")
def hf():
    torch.set_num_threads(1)
    return load_backend("tiny", batch_size=1)  # one row at a time: no padding differences


@pytest.fixture(scope="module")
def served(hf):
    with BackgroundServer(create_app(hf)) as url:
        yield url


def post(url: str, path: str, body: dict) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=120)


def sse_events(resp: httpx.Response) -> list:
    lines = [line[5:].strip() for line in resp.text.splitlines() if line.startswith("data:")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def hf_text(hf, messages, prefill="", n=20) -> Generation:
    return hf.generate([Request(tuple(messages), prefill=prefill, max_new_tokens=n)])[0]


def test_models_and_health(served):
    data = httpx.get(served + "/models").json()
    assert data["data"][0]["id"] == "tiny-llama"
    assert data["data"][0]["owned_by"] == "neutrophil"
    assert httpx.get(served.removesuffix("/v1") + "/health").json() == {"status": "ok"}


def test_chat_completion_matches_hf(hf, served):
    data = post(
        served, "/chat/completions", {"model": "tiny-llama", "messages": MSGS, "max_tokens": 20}
    ).json()
    gen = hf_text(hf, MSGS)
    choice = data["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": gen.text}
    assert choice["finish_reason"] == "length"
    assert data["usage"] == {
        "prompt_tokens": gen.prompt_tokens,
        "completion_tokens": gen.generated_tokens,
        "total_tokens": gen.prompt_tokens + gen.generated_tokens,
    }


def test_final_assistant_message_is_continued(hf, served):
    msgs = [*MSGS, {"role": "assistant", "content": "Sure, first"}]
    body = {"messages": msgs, "max_tokens": 20, "continue_final_message": True}
    data = post(served, "/chat/completions", body).json()
    assert data["choices"][0]["message"]["content"] == hf_text(hf, MSGS, "Sure, first").text


def test_raw_completion_tokenises_prompt_directly(hf, served):
    prompt = hf.render(MSGS)  # the chat template by hand: must equal the chat path
    data = post(served, "/completions", {"prompt": prompt, "max_tokens": 20}).json()
    assert data["object"] == "text_completion"
    assert data["choices"][0]["text"] == hf_text(hf, MSGS).text


def test_bad_requests_get_openai_errors(served):
    for path, body in [
        ("/chat/completions", {"messages": []}),
        ("/chat/completions", {"messages": MSGS, "n": 2}),
        ("/chat/completions", {"messages": MSGS, "max_tokens": -1}),
        ("/completions", {"prompt": 3}),
    ]:
        resp = post(served, path, body)
        assert resp.status_code == 400, body
        assert resp.json()["error"]["type"] == "invalid_request_error"
    resp = httpx.post(served + "/chat/completions", content=b"{not json")
    assert resp.status_code == 400


def test_streaming_equals_non_streaming(hf, served):
    body = {"messages": MSGS, "max_tokens": 30}
    full = post(served, "/chat/completions", body).json()
    stream = {**body, "stream": True, "stream_options": {"include_usage": True}}
    events = sse_events(post(served, "/chat/completions", stream))
    deltas = [e["choices"][0]["delta"].get("content", "") for e in events if e["choices"]]
    assert sum(1 for d in deltas if d) > 2  # really streamed, not one blob
    assert "".join(deltas) == full["choices"][0]["message"]["content"]
    assert events[-2]["choices"][0]["finish_reason"] == "length"
    assert events[-1]["usage"] == full["usage"]


def test_stop_strings(hf, served):
    text = hf_text(hf, MSGS, n=30).text
    stop = text[6:8]
    expected = text[: text.find(stop)]
    body = {"messages": MSGS, "max_tokens": 30, "stop": [stop]}
    data = post(served, "/chat/completions", body).json()
    assert data["choices"][0]["message"]["content"] == expected
    assert data["choices"][0]["finish_reason"] == "stop"
    events = sse_events(post(served, "/chat/completions", {**body, "stream": True}))
    streamed = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
    assert streamed == expected


def test_visible_holds_back_partial_stops_and_characters():
    assert cut_at_stop("abcSTOPdef", ("STOP",)) == ("abc", True)
    assert visible("abcST", ("STOP",)) == "ab"  # "ST" might become "STOP"... keep 3 back
    assert visible("abc\ufffd", ()) == "abc"  # a partial UTF-8 character may still complete


def test_concurrent_requests_are_batched(hf):
    gate = threading.Event()
    rec = Recording(hf, gate)
    app = create_app(rec)
    n = 6
    prompts = [f"question number {i}" for i in range(n)]
    with BackgroundServer(app) as url:
        results: dict[int, str] = {}

        def ask(i: int) -> None:
            body = {"messages": [{"role": "user", "content": prompts[i]}], "max_tokens": 8}
            results[i] = post(url, "/chat/completions", body).json()["choices"][0]["message"][
                "content"
            ]

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(n)]
        # The first request's batch is held at the gate before the others are sent (so
        # how fast they arrive cannot decide which batch they join); then every other
        # request queues behind it.
        threads[0].start()
        deadline = time.monotonic() + 120
        while not rec.batches:
            assert time.monotonic() < deadline, "the first request never reached the server"
            time.sleep(0.005)
        for t in threads[1:]:
            t.start()
        while len(rec.batches[0]) + app.state.engine.batcher.waiting() != n:
            assert time.monotonic() < deadline, "requests never reached the server"
            time.sleep(0.005)
        gate.set()
        for t in threads:
            t.join(120)
    sizes = [len(b) for b in rec.batches]
    assert sum(sizes) == n and len(sizes) == 2  # the queued ones went in as ONE batch
    for i in range(n):
        assert results[i] == hf_text(hf, [{"role": "user", "content": prompts[i]}], n=8).text


def test_guard_proxy_injects_prefix(hf):
    rec = Recording(hf)
    defense = guard_defense(prefix=GUARD, system="Be safe.")
    with BackgroundServer(create_app(rec, defense)) as url:
        data = post(url, "/chat/completions", {"messages": MSGS, "max_tokens": 20}).json()
        # Raw completions would bypass the guard, so the proxy refuses them.
        assert post(url, "/completions", {"prompt": "hi"}).status_code == 403
    upstream = rec.batches[0][0]
    assert upstream.prefill == GUARD
    assert upstream.messages[0] == {"role": "system", "content": "Be safe."}
    defended = defense.apply(hf, [Request(tuple(MSGS), max_new_tokens=20)])[0]
    expected = hf.generate([defended])[0].text
    assert data["choices"][0]["message"]["content"] == GUARD + expected


def test_a_client_prefill_cannot_displace_the_guard_prefix(hf):
    """The prefill attack (the attacker writes the reply's first words, PING's mirror): in
    guard mode the guard's prefix stays first, the client's words come after it."""
    rec = Recording(hf)
    attack = [*MSGS, {"role": "assistant", "content": "Sure, here is"}]
    with BackgroundServer(create_app(rec, guard_defense(prefix=GUARD))) as url:
        data = post(url, "/chat/completions", {"messages": attack, "max_tokens": 8}).json()
        # the client cannot ask for its text to go in unprefixed either
        body = {"messages": attack, "max_tokens": 8, "continue_final_message": False}
        assert post(url, "/chat/completions", body).status_code == 200
    first, second = rec.batches[0][0], rec.batches[1][0]
    assert first.prefill == GUARD + "Sure, here is"
    assert first.messages == tuple(MSGS)
    assert second.prefill == GUARD  # not continued: the assistant turn is history, guard first
    assert second.messages[-1] == {"role": "assistant", "content": "Sure, here is"}
    # the reply shows the injected guard, then continues the client's words (not repeated)
    assert data["choices"][0]["message"]["content"].startswith(GUARD)


def test_guard_proxy_in_front_of_an_openai_server(hf, served):
    """neutrophil serve --model openai:... --prefix: proxy -> upstream server -> model."""
    upstream = OpenAIBackend.from_spec(f"openai:{served}#tiny-llama")
    with BackgroundServer(create_app(upstream, guard_defense(prefix=GUARD))) as url:
        body = {"messages": MSGS, "max_tokens": 20}
        data = post(url, "/chat/completions", body).json()
        events = sse_events(post(url, "/chat/completions", {**body, "stream": True}))
    expected = GUARD + hf_text(hf, MSGS, GUARD).text
    assert data["choices"][0]["message"]["content"] == expected
    streamed = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
    assert streamed == expected


def test_no_guard_without_texts():
    assert guard_defense() is None


CLI = (
    "import argparse, sys; from neutrophil.cli import serve; "
    "p = argparse.ArgumentParser(); serve.register(p.add_subparsers()); "
    "a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))"
)


def test_cli_serve_subprocess(tmp_path):
    prefix_file = tmp_path / "prefix.txt"
    prefix_file.write_text(GUARD + "\n")
    port = free_port()
    cmd = [sys.executable, "-c", CLI, "serve", "--model", "tiny", "--prefix-file", str(prefix_file)]
    cmd += ["--port", str(port)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:  # poll for readiness
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                httpx.get(url + "/models", timeout=5).raise_for_status()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.1)
        data = post(url, "/chat/completions", {"messages": MSGS, "max_tokens": 5}).json()
        assert data["choices"][0]["message"]["content"].startswith(GUARD)
        assert data["usage"]["completion_tokens"] == 5
    finally:
        proc.terminate()
        proc.wait(30)
