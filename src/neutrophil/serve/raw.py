"""Raw-prompt requests: a prompt text that bypasses the chat template (`/v1/completions`).

The backend contract speaks chat messages only, so a raw prompt travels as one message with
a reserved role; backends that can take raw text (`HFBackend` through `RawPromptHF`, the
OpenAI backend) recognise it, others never see it.
"""

from __future__ import annotations

from collections.abc import Sequence

from neutrophil.models.base import Message

RAW_ROLE = "neutrophil.raw"


def raw_messages(prompt: str) -> tuple[Message, ...]:
    return ({"role": RAW_ROLE, "content": prompt},)


def raw_text(messages: Sequence[Message]) -> str | None:
    """The raw prompt if `messages` carries one, else None."""
    if len(messages) == 1 and messages[0].get("role") == RAW_ROLE:
        return messages[0]["content"]
    return None
