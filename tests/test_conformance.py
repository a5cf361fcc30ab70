"""Conformance against real OpenAI-compatible servers that the tests start on 127.0.0.1.

Servers (each a separate process, the embedded model's weights):
- `llama-cpp-python`: llama-cpp-python's own server (`python -m llama_cpp.server`) on the
  GGUF as stored (Q4_1);
- `neutrophil-llama`: `neutrophil serve --engine llama --gguf-weights file`, the same weights;
- `neutrophil-hf`: `neutrophil serve --engine hf` (the GGUF converted to safetensors);
- `vllm`: vLLM's OpenAI server on that safetensors copy, fp32, when a Python with vLLM is
  named by `NEUTROPHIL_VLLM_PYTHON` (docs/serving.md has the recipe); skipped otherwise.

For each: `eval` on a fixed sample of built-in chat tasks gives the in-process engine's
verdicts (same weights) on >= 95% of tasks with no empty answer; `prefill=auto` picks a
mode in which the server continues an assistant prefix (or says why it cannot, and an
explicit template does); a stream closed early stops the server's own decoding; and a server
killed mid-run gives exit 3, keeps the finished rows, and the rerun resumes them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from servers import QUIET_ENV, ServerProcess, neutrophil_argv

from neutrophil.agent import Agent
from neutrophil.defenses.base import PromptDefense
from neutrophil.envs.registry import load_tasks
from neutrophil.evaluation import EvalRun, evaluate
from neutrophil.models import load_backend
from neutrophil.models.base import Request, user_message
from neutrophil.models.embedded import embedded_gguf, ensure_converted
from neutrophil.models.openai_backend import (
    PROBE_PREFILL,
    PROBE_PROMPT,
    OpenAIBackend,
    continues_prefill,
)

pytestmark = pytest.mark.integration

SAMPLE_SPEC = ("builtin:chat", "test", 20)
PREFIX = "I will answer carefully and safely. "
MODEL = "smollm2"


def sample():
    spec, split, limit = SAMPLE_SPEC
    return load_tasks(spec, split=split, limit=limit)


@dataclass
class Conformance:
    """A running server, what weights it holds (`reference`: the in-process engine on the
    same weights), and how to read its own count of generated tokens, if it has one."""

    name: str
    server: ServerProcess
    reference: str  # "llama-file" or "hf"

    @property
    def spec(self) -> str:
        return f"openai:{self.server.url}#{MODEL}"


def _vllm_python() -> str | None:
    path = os.environ.get("NEUTROPHIL_VLLM_PYTHON")
    return path if path and Path(path).is_file() else None


def _argv(name: str) -> tuple[list[str], str, dict[str, str]]:
    gguf = str(embedded_gguf())
    if name == "llama-cpp-python":
        argv = [sys.executable, "-m", "llama_cpp.server", "--model", gguf, "--n_ctx", "4096"]
        argv += [
            "--n_threads",
            "1",
            "--n_threads_batch",
            "1",
            "--model_alias",
            MODEL,
            "--port",
            "{port}",
        ]
        return argv, "llama-file", QUIET_ENV
    if name == "neutrophil-llama":
        argv = neutrophil_argv("serve", "--engine", "llama", "--gguf-weights", "file")
        return argv + ["--name", MODEL, "--port", "{port}"], "llama-file", QUIET_ENV
    if name == "neutrophil-hf":
        argv = neutrophil_argv("serve", "--engine", "hf", "--name", MODEL, "--port", "{port}")
        return argv, "hf", QUIET_ENV
    assert name == "vllm"
    python = _vllm_python()
    if python is None:
        pytest.skip("vLLM is not installed here: set NEUTROPHIL_VLLM_PYTHON (docs/serving.md)")
    weights = str(ensure_converted(embedded_gguf()))
    argv = [python, "-m", "vllm.entrypoints.openai.api_server", "--model", weights]
    argv += ["--served-model-name", MODEL, "--dtype", "float32", "--max-model-len", "4096"]
    env = {**QUIET_ENV, "OMP_NUM_THREADS": "2", "VLLM_CPU_KVCACHE_SPACE": "2"}
    return argv + ["--port", "{port}"], "hf", env


SERVERS = ["llama-cpp-python", "neutrophil-llama", "neutrophil-hf", "vllm"]


@pytest.fixture(scope="module", params=SERVERS)
def conformance(request, tmp_path_factory):
    name = request.param
    argv, reference, env = _argv(name)
    log = tmp_path_factory.mktemp(name) / "server.log"
    server = ServerProcess(argv, log, env=env).start()
    try:
        yield Conformance(name, server, reference)
    finally:
        server.stop()


_references: dict[str, EvalRun] = {}


def reference_run(kind: str) -> EvalRun:
    """The sample through the in-process engine on the same weights (computed once)."""
    if kind not in _references:
        if kind == "llama-file":
            backend = load_backend(engine="llama", gguf_weights="file")
        else:
            backend = load_backend(engine="hf")
        _references[kind] = evaluate(Agent(backend), sample(), progress=False)
    return _references[kind]


def verdicts(run: EvalRun) -> dict[str, tuple]:
    return {
        t.task_id: (t.verdict.refused, t.verdict.success, t.verdict.harmful_done)
        for t in run.transcripts
    }


def test_eval_verdicts_match_the_in_process_engine(conformance):
    spec = conformance.spec
    if conformance.reference == "hf":
        # A transformers server holds the whole sample in one batch, as the in-process
        # engine does (8 in flight, the default, is what the llama.cpp servers get).
        spec += f"?concurrency={len(sample())}"
    with OpenAIBackend.from_spec(spec) as backend:
        served = evaluate(Agent(backend), sample(), progress=False)
    reference = reference_run(conformance.reference)
    ours, theirs = verdicts(served), verdicts(reference)
    same = sum(ours[k] == theirs[k] for k in theirs)
    assert same >= 0.95 * len(theirs), f"{same}/{len(theirs)} verdicts agree"
    assert served.metrics["empty_responses"] == {"harmful": 0, "benign": 0}
    lengths = [len(t.response) for t in served.transcripts]
    assert min(lengths) > 0 and sum(lengths) / len(lengths) > 50
    record(conformance.name, "verdicts", f"{same}/{len(theirs)}")


def test_prefill_auto_continues_the_assistant_prefix(conformance, capfd):
    probe = Request(user_message(PROBE_PROMPT), prefill=PROBE_PREFILL, max_new_tokens=4)
    with OpenAIBackend.from_spec(conformance.spec) as backend:
        mode = backend.mode
        if conformance.name == "llama-cpp-python":
            # This server closes a final assistant message and publishes no chat template:
            # auto says so and falls back to the user turn; the model's own template from
            # the GGUF it serves gives a true prefill through /completions.
            assert mode == "suffix"
            assert "template=MODEL.gguf" in capfd.readouterr().err
            record(conformance.name, "auto", "suffix (says why)")
            spec = f"{conformance.spec}?template={embedded_gguf()}"
            with OpenAIBackend.from_spec(spec) as explicit:
                assert explicit.mode == "completions"
                check_prefill(explicit, probe, conformance)
            return
        assert mode == "continue"
        check_prefill(backend, probe, conformance)
        record(conformance.name, "auto", mode)


def check_prefill(backend: OpenAIBackend, probe: Request, conformance: Conformance) -> None:
    assert continues_prefill(backend.generate([probe])[0].text)
    # Through eval: the prefix opens each transcript, and the model goes on after it.
    run = evaluate(
        Agent(backend, PromptDefense(name="prefix", prefix=PREFIX)), sample()[:2], progress=False
    )
    for t in run.transcripts:
        assert t.response.startswith(PREFIX) and len(t.response) > len(PREFIX) + 20
    record(conformance.name, "prefill", backend.mode)


def test_closing_a_stream_stops_the_server(conformance):
    """A row that stops early (its verdict is fixed) closes its stream; the server's own
    record shows it stopped decoding that answer long before its token budget."""
    budget = 400
    request = Request(
        user_message("Write a very long story about a dragon who learns to sail."),
        max_new_tokens=budget,
        stop_when=lambda text: len(text.split()) >= 5,
    )
    with OpenAIBackend.from_spec(conformance.spec) as backend:
        before = server_generated_tokens(conformance)
        if before is None:
            pytest.skip(f"{conformance.name} reports no count of generated tokens")
        out = backend.generate([request])[0]
        assert out.stopped_early and len(out.text.split()) >= 5
        # A 2-token request after it: a server that decodes one request at a time has then
        # ended the closed one; the others count it once their engine drops the row.
        backend.generate([Request(user_message("hi"), max_new_tokens=2)])
        answers, spent = server_generated_tokens(conformance, wait_for=2, since=before)
    assert spent < budget / 4, f"the server generated {spent} tokens for a closed stream"
    if conformance.name == "llama-cpp-python":  # it logs the abandoned answer as such
        assert "Disconnected from client" in conformance.server.log_text()
    record(conformance.name, "early stop", f"{spent} tokens in all ({budget} allowed)")


Counts = tuple[int | None, int]  # (answers, generated tokens) as the server counts them


def server_generated_tokens(
    conformance: Conformance, *, wait_for: int = 0, since: Counts | None = None
) -> Counts | None:
    """The server's own count of generated tokens (and of answers, where it has one):
    vLLM's and neutrophil's Prometheus counters, llama-cpp-python's log (one `eval time =
    ... / N runs` line per answer it finished; an abandoned one prints none). With `since`,
    the counts added after it, once `wait_for` more answers are counted (the server ends a
    closed row at its next step, on its own thread)."""
    deadline = time.monotonic() + 120
    while True:
        now = _server_counts(conformance)
        if now is None or since is None:
            return now
        answers = None if now[0] is None else now[0] - (since[0] or 0)
        if answers is None or answers >= wait_for:
            return answers, now[1] - since[1]
        assert time.monotonic() < deadline, f"{conformance.name} counted {answers} answers"
        time.sleep(0.1)


def _server_counts(conformance: Conformance) -> Counts | None:
    if conformance.name == "llama-cpp-python":
        log = conformance.server.log_text()
        return None, sum(int(n) for n in re.findall(r"eval time = .*?/\s+(\d+) runs", log))
    text = httpx.get(conformance.server.root + "/metrics", timeout=30).text
    if conformance.name == "vllm":  # its answer counters leave out aborted requests
        deadline = time.monotonic() + 120
        while _counter(text, "vllm:num_requests_running"):  # it ends the closed row
            assert time.monotonic() < deadline, "vLLM never ended the closed stream's row"
            time.sleep(0.1)
            text = httpx.get(conformance.server.root + "/metrics", timeout=30).text
        tokens = _counter(text, "vllm:generation_tokens_total")
        return None if tokens is None else (None, tokens)
    tokens = _counter(text, "neutrophil_generation_tokens_total")
    answers = _counter(text, "neutrophil_requests_total")
    return None if tokens is None else (answers, tokens)


def _counter(text: str, name: str) -> int | None:
    """A Prometheus counter's value, summed over its labels."""
    values = re.findall(rf"^{re.escape(name)}(?:{{[^}}]*}})? ([0-9.e+]+)$", text, re.M)
    return int(sum(float(v) for v in values)) if values else None


KILLED_LIMIT = 3  # tasks of the killed run: the first is kept, the second is cut


def test_killed_server_mid_run_is_exit_3_and_the_rerun_resumes(conformance, tmp_path):
    """Runs last for each server: it kills it, then starts it again for the rerun."""
    out = tmp_path / "run"
    # One request at a time, so the kill lands between rows (a batching server would
    # otherwise finish all three at once).
    spec = f"{conformance.spec}?concurrency=1"
    args = ["eval", "--model", spec, "--tasks", "builtin:chat", "--split", "test"]
    args += ["--limit", str(KILLED_LIMIT), "--out", str(out)]
    rows = out / "responses.jsonl"
    proc = subprocess.Popen(
        neutrophil_argv(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=QUIET_ENV
    )
    try:
        while _lines(rows) < 1:  # the run stores rows as they are judged
            assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
            time.sleep(0.2)
        conformance.server.kill()
        _, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = err.decode()
    assert proc.returncode == 3, stderr[-2000:]
    assert "Traceback" not in stderr
    last = stderr.strip().splitlines()[-1]
    assert conformance.server.url in last or str(conformance.server.port) in last
    kept = rows.read_text().splitlines()
    assert 1 <= len(kept) < KILLED_LIMIT and all(json.loads(line) for line in kept)

    conformance.server.start()  # the same port: the rerun points at the same spec
    again = subprocess.run(
        neutrophil_argv(*args), capture_output=True, text=True, env=QUIET_ENV, timeout=600
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"resuming: {len(kept)} of {KILLED_LIMIT} tasks" in again.stderr
    final = rows.read_text().splitlines()
    assert final[: len(kept)] == kept and len(final) == KILLED_LIMIT
    record(conformance.name, "killed mid-run", f"exit 3, {len(kept)} rows kept, resumed")


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def record(server: str, what: str, value: str) -> None:
    """Append what a check found to $NEUTROPHIL_CONFORMANCE_LOG (the docs' table is filled
    from it); nothing without that variable."""
    path = os.environ.get("NEUTROPHIL_CONFORMANCE_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps({"server": server, "check": what, "value": value}) + "\n")
