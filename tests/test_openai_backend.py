"""OpenAIBackend against a real neutrophil server on 127.0.0.1 serving the tiny HF model:
every prefill mode must give exactly the text the HF backend gives directly (greedy)."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
import torch
from servers import free_port

from neutrophil.defenses.base import PromptDefense
from neutrophil.errors import BackendError, UserError
from neutrophil.models import load_backend
from neutrophil.models.base import Generation, Request, as_suffix, user_message
from neutrophil.models.openai_backend import (
    PROBE_PREFILL,
    OpenAIBackend,
    OpenAISpec,
    continues_prefill,
)
from neutrophil.serve.app import create_app
from neutrophil.serve.runner import BackgroundServer

REQUESTS = [
    Request(user_message("hello there"), max_new_tokens=24),
    Request(user_message("Write a haiku", system="Be brief."), max_new_tokens=16),
    Request(user_message("How do I bake bread?"), prefill="Sure, here", max_new_tokens=20),
    Request(user_message("x"), prefill="I cannot", max_new_tokens=8),
]


class Recording:
    """Backend wrapper that keeps every batch it was given and every generation it returned."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.prefill_mode = inner.prefill_mode
        self.batches: list[list[Request]] = []
        self.outputs: list[Generation] = []

    def generate(self, requests, *, progress=False):
        self.batches.append(list(requests))
        out = self.inner.generate(requests)
        self.outputs.extend(out)
        return out

    def __getattr__(self, name):  # transparent otherwise (render, tokenizer)
        return getattr(self.inner, name)

    def continuous(self, max_rows: int):  # the server drives this wrapper, batch by batch
        from neutrophil.models.batching import Batched

        return Batched(self, max_rows=max_rows)


@pytest.fixture(scope="module")
def hf():
    torch.set_num_threads(1)
    return load_backend("tiny", batch_size=1)  # one row at a time: no padding differences


@pytest.fixture(scope="module")
def served(hf):
    rec = Recording(hf)
    with BackgroundServer(create_app(rec)) as url:
        yield url, rec


@pytest.fixture(scope="module")
def served_hf(hf):
    """The HF backend served directly (it also takes raw prompts on /v1/completions)."""
    with BackgroundServer(create_app(hf)) as url:
        yield url


def test_auto_mode_matches_hf(hf, served):
    url, rec = served
    with OpenAIBackend.from_spec(f"openai:{url}#tiny-llama") as ob:
        assert ob.mode == "continue"  # our server says owned_by=neutrophil
        assert ob.prefill_mode == "native"
        assert ob.generate(REQUESTS) == hf.generate(REQUESTS)
    # The server received the prefill as a prefill, not as a finished assistant turn.
    seen = {r.prefill for batch in rec.batches for r in batch}
    assert {"Sure, here", "I cannot"} <= seen


def test_assistant_mode_matches_hf(hf, served):
    url, _ = served
    with OpenAIBackend.from_spec(f"openai:{url}#tiny-llama?prefill=assistant") as ob:
        assert ob.generate(REQUESTS) == hf.generate(REQUESTS)


def test_completions_mode_with_template_matches_hf(hf, served_hf):
    with OpenAIBackend.from_spec(f"openai:{served_hf}#tiny-llama?template=chatml") as ob:
        assert ob.mode == "completions"
        assert ob.generate(REQUESTS) == hf.generate(REQUESTS)


@pytest.mark.parametrize("source", ["props", "directory"])
def test_completions_mode_with_server_or_local_template(hf, served_hf, source, tmp_path):
    if source == "directory":
        hf.tokenizer.save_pretrained(tmp_path)
    template = "props" if source == "props" else str(tmp_path)
    with OpenAIBackend.from_spec(f"openai:{served_hf}#tiny-llama?template={template}") as ob:
        assert ob.generate(REQUESTS) == hf.generate(REQUESTS)


def test_suffix_mode(hf, served):
    url, _ = served
    with OpenAIBackend.from_spec(f"openai:{url}#tiny-llama?prefill=suffix") as ob:
        assert ob.prefill_mode == "suffix"
        r = REQUESTS[2]
        expected = hf.generate([Request(as_suffix(r.messages, r.prefill), max_new_tokens=20)])
        assert ob.generate([r]) == expected
        # A prefix defense on a suffix backend moves the guard into the user turn.
        defended = PromptDefense(name="prefix", prefix="Stay safe.").apply(ob, [REQUESTS[0]])[0]
        assert defended.prefill == ""
        assert defended.messages[-1]["content"].endswith("\n\nStay safe.")
        assert ob.generate([defended]) == hf.generate([defended])


class HoldAfter(Recording):
    """Recording wrapper whose rows pause after `steps` generation steps until the test says
    the client has closed its stream, then run on until the server's own stop rule fires.
    So the test sees the server react to the disconnect however fast generation is."""

    def __init__(self, inner, steps: int) -> None:
        super().__init__(inner)
        self.steps = steps
        self.client_closed = threading.Event()

    def generate(self, requests, *, progress=False):
        return super().generate([replace(r, stop_when=self._held(r.stop_when)) for r in requests])

    def _held(self, server_stop):
        calls = 0

        def stop(text: str) -> bool:
            nonlocal calls
            calls += 1
            if calls <= self.steps:
                return server_stop(text)
            assert self.client_closed.wait(120), "the client never closed its stream"
            deadline = time.monotonic() + 120
            while not server_stop(text):  # the server notices the disconnect asynchronously
                assert time.monotonic() < deadline, "the server never noticed the disconnect"
                time.sleep(0.01)
            return True

        return stop


def test_streaming_stop_when_stops_early_on_both_sides(hf):
    seen: list[str] = []

    def stop(text: str) -> bool:
        seen.append(text)
        return len(text) >= len("OK") + 4

    r = Request(user_message("hi"), prefill="OK", max_new_tokens=1000, stop_when=stop)
    full = hf.generate([replace(r, stop_when=None, max_new_tokens=40)])[0]
    assert full.generated_tokens == 40  # no EOS: only stop_when can end the row early
    rec = HoldAfter(hf, steps=20)  # 20 tokens: far more than the client needs to stop
    with BackgroundServer(create_app(rec)) as url:
        with OpenAIBackend.from_spec(f"openai:{url}#tiny-llama") as ob:
            out = ob.generate([r])[0]
        rec.client_closed.set()
        assert out.stopped_early
        assert 4 <= len(out.text) < len(full.text)
        assert full.text.startswith(out.text)
        assert all(s.startswith("OK") for s in seen)
        assert out.prompt_tokens == full.prompt_tokens  # per-chunk usage from the server
        # Closing the stream made the server stop that row too (well before 1000 tokens).
        deadline = time.monotonic() + 120
        while not rec.outputs:
            assert time.monotonic() < deadline, "the server never finished the row"
            time.sleep(0.01)
    server_side = rec.outputs[-1]
    assert server_side.stopped_early
    assert server_side.generated_tokens <= 21


def test_stop_when_without_streaming_returns_full_text(hf, served):
    url, _ = served
    r = Request(user_message("hi"), max_new_tokens=12, stop_when=lambda t: len(t) > 2)
    with OpenAIBackend.from_spec(f"openai:{url}#tiny-llama?stream=off") as ob:
        out = ob.generate([r])[0]
    assert out == hf.generate([replace(r, stop_when=None)])[0]


def test_connection_refused_is_one_line_backend_error():
    url = f"http://127.0.0.1:{free_port()}/v1"
    ob = OpenAIBackend.from_spec(f"openai:{url}#m?prefill=continue")
    with pytest.raises(BackendError) as e:
        ob.generate(REQUESTS[:1])
    # The first contact is GET /models (a silent server fails there within first_byte).
    assert str(e.value).startswith(f"{url}/models: cannot connect")
    assert "\n" not in str(e.value)
    with pytest.raises(BackendError, match="cannot connect"):
        _ = OpenAIBackend.from_spec(f"openai:{url}#m").prefill_mode  # the probe fails alike


def test_http_error_status_is_one_line_user_error(served):
    url, _ = served
    bad = url.removesuffix("/v1") + "/nope/v1"
    ob = OpenAIBackend.from_spec(f"openai:{bad}#m?prefill=continue")
    with pytest.raises(UserError) as e:
        ob.generate(REQUESTS[:1])
    assert str(e.value).startswith(f"{bad}/chat/completions: HTTP 404")
    assert "\n" not in str(e.value)


def test_api_key_is_sent(hf):
    with BackgroundServer(create_app(hf, api_key="s3cret")) as url:
        with pytest.raises(UserError, match="HTTP 401"):
            OpenAIBackend.from_spec(f"openai:{url}#tiny-llama?prefill=continue").generate(
                REQUESTS[:1]
            )
        ob = OpenAIBackend.from_spec(f"openai:{url}#tiny-llama", api_key="s3cret")
        assert ob.generate(REQUESTS[:1]) == hf.generate(REQUESTS[:1])


def test_load_backend_reads_key_from_env(monkeypatch, hf):
    monkeypatch.setenv("NEUTROPHIL_API_KEY", "k1")
    with BackgroundServer(create_app(hf, api_key="k1")) as url:
        ob = load_backend(f"openai:{url}#tiny-llama")
        assert isinstance(ob, OpenAIBackend)
        assert ob.generate(REQUESTS[:1]) == hf.generate(REQUESTS[:1])


def test_spec_parsing():
    s = OpenAISpec.parse("openai:http://h:1/v1/#org/m-1?prefill=suffix&concurrency=3&timeout=5")
    assert (s.base_url, s.model, s.prefill, s.concurrency, s.timeout) == (
        "http://h:1/v1",
        "org/m-1",
        "suffix",
        3,
        5.0,
    )
    assert OpenAISpec.parse("openai:http://h/v1#m?template=chatml").prefill == "completions"
    assert OpenAISpec.parse("openai:http://h/v1#m?stream=off").stream is False
    for bad in (
        "openai:http://h/v1",
        "openai:ftp://h/v1#m",
        "openai:http://h/v1#m?prefill=bogus",
        "openai:http://h/v1#m?colour=red",
        "openai:http://h/v1#m?prefill=completions",
        "openai:http://h/v1#m?concurrency=0",
    ):
        with pytest.raises(UserError):
            OpenAISpec.parse(bad)


def test_probe_classification():
    assert PROBE_PREFILL.endswith("7,")
    assert continues_prefill(" 8, 9, 10")
    assert continues_prefill("8,")
    assert not continues_prefill("1, 2, 3")  # a new turn starting over
    assert not continues_prefill("Sure! 1, 2")
