"""Inspect AI through the guard proxy: Inspect's own OpenAI-compatible provider
(`openai-api/...`) pointed at `neutrophil serve --prefix-file` runs
`neutrophil/agentic_safety` with the verdicts of the `neutrophil/...` provider.

This is the path for a harness that already speaks OpenAI: the defense lives in the proxy,
and the harness needs nothing of neutrophil's but the task.
"""

from __future__ import annotations

import pytest

pytest.importorskip("inspect_ai")

from inspect_ai import eval
from inspect_ai.log import read_eval_log
from servers import ServerProcess, neutrophil_argv

from neutrophil.interop.inspect.scoring import SCORER

pytestmark = pytest.mark.integration

PREFIX = "I first check that this is safe. "
LIMIT = 3  # chat tasks: one harmful, one benign, one borderline
# The GGUF's Q4_1 weights as stored on both paths: llama.cpp computes each Q4_1 row on its
# own, so the proxy's batches and the provider's give the same tokens.
ENGINE = ("--engine", "llama", "--gguf-weights", "file")


def run(tmp_path, model: str, **options):
    logs = eval(
        "neutrophil/agentic_safety",
        model=model,
        # Without early stopping on either path: a proxy cannot stop a row early, and a
        # longer answer can loop where a shorter one has not yet (the fluency check).
        task_args={"split": "test", "domain": "chat", "judge": "default", "early_stop": False},
        limit=LIMIT,
        log_dir=str(tmp_path),
        display="none",
        **options,
    )
    assert logs[0].status == "success", logs[0].error
    return read_eval_log(logs[0].location)


def verdicts(log) -> dict[str, tuple]:
    out = {}
    for sample in log.samples:
        v = sample.scores[SCORER].metadata["verdict"]
        out[sample.id] = (v["refused"], v["success"], v["harmful_done"])
    return out


def test_inspect_openai_api_through_the_proxy_matches_the_neutrophil_provider(
    tmp_path, monkeypatch
):
    prefix_file = tmp_path / "prefix.txt"
    prefix_file.write_text(PREFIX)
    argv = neutrophil_argv("serve", *ENGINE, "--prefix-file", str(prefix_file))
    proxy = ServerProcess(
        argv + ["--name", "guarded", "--port", "{port}"],
        tmp_path / "proxy.log",
        ready_path="/health",
    ).start()
    try:
        # Inspect's openai-api provider reads <SERVICE>_API_KEY; the proxy needs no key here.
        monkeypatch.setenv("NEUTROPHIL_API_KEY", "unused")
        through_proxy = run(
            tmp_path / "proxy", "openai-api/neutrophil/guarded", model_base_url=proxy.url
        )
    finally:
        proxy.stop()
    direct = run(
        tmp_path / "direct",
        "neutrophil/smollm2-135m",
        model_args={"engine": "llama", "gguf_weights": "file", "prefix": PREFIX},
    )
    assert {s.metadata["kind"] for s in direct.samples} == {"harmful", "benign"}
    assert verdicts(through_proxy) == verdicts(direct)
    chat = next(s for s in through_proxy.samples if s.metadata["domain"] == "chat")
    assert chat.output.completion.startswith(PREFIX)  # the proxy's answer opens with it
