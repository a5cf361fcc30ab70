"""What Inspect's `inspect_ai` entry point loads: registers the model API and the tasks."""

from __future__ import annotations

from inspect_ai.model import ModelAPI, modelapi

from neutrophil.interop.inspect.tasks import agentic_safety

__all__ = ["agentic_safety", "neutrophil"]


@modelapi(name="neutrophil")
def neutrophil() -> type[ModelAPI]:
    # Imported on first use, so listing Inspect's extensions does not load torch.
    from neutrophil.interop.inspect.provider import NeutrophilAPI

    return NeutrophilAPI
