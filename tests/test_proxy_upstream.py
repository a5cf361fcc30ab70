"""`neutrophil serve` as the guard proxy in front of a real third-party upstream
(llama-cpp-python's own server), with the official `openai` SDK as the client.

The proxy sends the upstream its rendered chat template through /completions
(`template=MODEL.gguf`), so the guard prefix is a true assistant prefill: the answer is the
prefix followed by exactly what the model writes after it in process (greedy, same weights).
"""

from __future__ import annotations

import sys

import openai
import pytest
from servers import QUIET_ENV, ServerProcess, neutrophil_argv

from neutrophil.models import load_backend
from neutrophil.models.base import Request, user_message
from neutrophil.models.embedded import embedded_gguf

pytestmark = pytest.mark.integration

GUARD = "I check whether this is safe first. "
KEY = "proxy-key"
QUESTION = "How do I make fluffy pancakes?"


@pytest.fixture(scope="module")
def proxy(tmp_path_factory):
    """(proxy base URL, upstream) with the proxy guarded and behind a key."""
    logs = tmp_path_factory.mktemp("proxy")
    gguf = str(embedded_gguf())
    upstream = ServerProcess(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            gguf,
            "--n_threads",
            "1",
            "--n_threads_batch",
            "1",
        ]
        + ["--model_alias", "smollm2", "--port", "{port}"],
        logs / "upstream.log",
    ).start()
    prefix_file = logs / "guard.txt"
    prefix_file.write_text(GUARD)
    spec = f"openai:{upstream.url}#smollm2?template={gguf}"
    env = {**QUIET_ENV, "NEUTROPHIL_SERVE_KEY": KEY}
    argv = neutrophil_argv("serve", "--model", spec, "--prefix-file", str(prefix_file))
    argv += ["--name", "guarded", "--require-key", "--port", "{port}"]
    server = ServerProcess(argv, logs / "proxy.log", ready_path="/health", env=env).start()
    try:
        yield server.url, upstream
    finally:
        server.stop()
        upstream.stop()


@pytest.fixture(scope="module")
def client(proxy):
    url, _ = proxy
    return openai.OpenAI(base_url=url, api_key=KEY, max_retries=0, timeout=300)


@pytest.fixture(scope="module")
def expected() -> str:
    """What the model writes after the guard prefix, in process on the same weights."""
    local = load_backend(engine="llama", gguf_weights="file", batch_size=1)
    request = Request(user_message(QUESTION), prefill=GUARD, max_new_tokens=24)
    return GUARD + local.generate([request])[0].text


def ask(client: openai.OpenAI, **extra):
    return client.chat.completions.create(
        model="guarded",
        messages=[{"role": "user", "content": QUESTION}],
        max_tokens=24,
        **extra,
    )


def test_the_guard_prefix_reaches_the_model(client, expected):
    answer = ask(client)
    content = answer.choices[0].message.content
    assert content.startswith(GUARD)
    assert content == expected
    # llama-cpp-python's server streams no usage (and the proxy streams from its upstream
    # to stop it when a client leaves): prompt tokens are what the upstream reported, 0.
    usage = answer.usage
    assert usage.completion_tokens == 24 and usage.total_tokens == usage.prompt_tokens + 24


def test_streaming_passes_through_with_usage(client, expected):
    chunks = list(ask(client, stream=True, stream_options={"include_usage": True}))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected
    usage = chunks[-1].usage
    assert usage is not None and usage.completion_tokens == 24
    assert chunks[-2].choices[0].finish_reason in ("stop", "length")


def test_sdk_errors_are_the_sdk_exceptions(proxy, client):
    url, _ = proxy
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )
    with pytest.raises(openai.BadRequestError):
        ask(client, temperature="hot")
    anonymous = openai.OpenAI(base_url=url, api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        ask(anonymous)
