"""`HFBackend` that also takes raw prompts, sharing the model and tokenizer of the original."""

from __future__ import annotations

from collections.abc import Sequence

from neutrophil.models.base import Message
from neutrophil.models.hf import HFBackend
from neutrophil.serve.raw import raw_text


class RawPromptHF(HFBackend):
    """Renders raw-prompt requests verbatim, chat requests through the chat template."""

    def __init__(self, base: HFBackend) -> None:
        # Share every attribute (model, tokenizer, eos ids); no weights are copied.
        self.__dict__.update(base.__dict__)

    def render(self, messages: Sequence[Message], prefill: str = "") -> str:
        raw = raw_text(messages)
        if raw is not None:
            return raw + prefill
        return super().render(messages, prefill)


def with_raw_prompts(backend: object) -> object | None:
    """A view of `backend` that accepts raw prompts, or None if it cannot."""
    if isinstance(backend, HFBackend):
        return backend if isinstance(backend, RawPromptHF) else RawPromptHF(backend)
    from neutrophil.models.openai_backend import OpenAIBackend

    return backend if isinstance(backend, OpenAIBackend) else None
