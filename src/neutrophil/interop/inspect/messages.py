"""Inspect chat messages -> neutrophil `Message`s plus the caller's own assistant prefill.

neutrophil models read text: image, audio or other non-text content is a clear error, and
reasoning blocks are left out (the model never sees them in its own template either).
Tool calls and tool results are kept as the structured fields Hugging Face chat templates
read (`tool_calls`, role `tool`); only the tool-calling path (`tools.py`) accepts them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from inspect_ai.model import ChatMessage, ChatMessageAssistant, ChatMessageTool

from neutrophil.errors import UserError

_SKIPPED = ("reasoning",)


def _text(m: ChatMessage, i: int) -> str:
    if isinstance(m.content, str):
        return m.content
    for part in m.content:
        if part.type not in ("text", *_SKIPPED):
            raise UserError(f"message {i}: neutrophil models take text only (got {part.type})")
    return m.text


def has_tool_turns(messages: Sequence[ChatMessage]) -> bool:
    return any(
        isinstance(m, ChatMessageTool) or (isinstance(m, ChatMessageAssistant) and m.tool_calls)
        for m in messages
    )


def to_neutrophil(
    messages: Sequence[ChatMessage], *, tools: bool = False
) -> tuple[tuple[dict[str, Any], ...], str]:
    """(messages, prefill): a final plain assistant message is continued, as in
    `neutrophil serve`, so Inspect's own prefill idiom works; the defense's prefix then goes
    in front of it."""
    if not messages:
        raise UserError("generate() got no messages")
    out: list[dict[str, Any]] = []
    for i, m in enumerate(messages):
        text = _text(m, i)
        if isinstance(m, ChatMessageTool):
            if not tools:
                raise UserError(f"message {i}: a tool result, but no tools were given")
            content = m.error.message if m.error is not None else text
            out.append(
                {
                    "role": "tool",
                    "content": content,
                    "name": m.function or "",
                    "tool_call_id": m.tool_call_id or "",
                }
            )
        elif isinstance(m, ChatMessageAssistant) and m.tool_calls:
            if not tools:
                raise UserError(f"message {i}: an assistant tool call, but no tools were given")
            calls = [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.function, "arguments": c.arguments},
                }
                for c in m.tool_calls
            ]
            out.append({"role": "assistant", "content": text, "tool_calls": calls})
        else:
            out.append({"role": m.role, "content": text})
    prefill = ""
    if out[-1]["role"] == "assistant" and "tool_calls" not in out[-1]:
        prefill = out.pop()["content"]
        if not out:
            raise UserError("generate() got only an assistant message (nothing to answer)")
    return tuple(out), prefill
