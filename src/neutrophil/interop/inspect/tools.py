"""Tool calling through the model's own chat template.

Supported: models on the transformers engine (model directories, `tiny`, and a `.gguf` or
the embedded model with `-M engine=hf`), through the engine's `tools_view()`, whose chat
template reads a `tools` variable (Qwen2.5, Llama 3.1+, Hermes-style templates...).
The tool schemas go to the template as `tools=[...]`; the model's answer is searched for
`<tool_call>{json}</tool_call>` blocks, else for a JSON object (or list of objects) with a
`name` and `arguments`/`parameters`, which covers the common open-model formats. Anything
else (an OpenAI-compatible server, a template without tools) is a one-line error rather
than a silent answer without tools.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Sequence
from typing import Any

from inspect_ai.tool import ToolCall, ToolInfo

from neutrophil.errors import UserError
from neutrophil.models.base import Backend, Message
from neutrophil.models.template import TOOLS_ROLE

_TAGGED = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.S)


def template_supports_tools(backend: Backend) -> bool:
    return "tools" in (backend.chat_template or "")


def check_tools_supported(tools: Backend | None, spec: str) -> None:
    """`tools`: the backend's `tools_view()`."""
    if tools is None:
        raise UserError(
            f"neutrophil/{spec}: tool calling needs a model on the transformers engine (its "
            "chat template renders the tools; -M engine=hf for a GGUF); this backend takes "
            "plain chat only"
        )
    if not template_supports_tools(tools):
        raise UserError(
            f"neutrophil/{spec}: this model's chat template does not support tools "
            "(plain chat and multi-turn work; tool calls need a template that reads `tools`)"
        )


def schemas(tools: Sequence[ToolInfo]) -> list[dict[str, Any]]:
    """OpenAI-style function schemas, the form HF chat templates expect."""
    return [
        {
            "type": "function",
            "function": {
                "name": t.name,
                "description": t.description,
                "parameters": t.parameters.model_dump(exclude_none=True),
            },
        }
        for t in tools
    ]


def with_tools(messages: Sequence[Message], tools: Sequence[ToolInfo]) -> tuple[Message, ...]:
    """Messages carrying the schemas in a reserved last message. Last, so a system guard
    still finds the conversation's system message first; defenses keep it as it is."""
    return (*messages, {"role": TOOLS_ROLE, "content": json.dumps(schemas(tools))})


def _call(obj: Any, n: int) -> ToolCall | None:
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        return None
    args = obj.get("arguments", obj.get("parameters", {}))
    error = None
    if isinstance(args, str):  # some templates emit the arguments as a JSON string
        try:
            args = json.loads(args)
        except json.JSONDecodeError:
            args, error = {}, f"arguments are not JSON: {args[:80]}"
    if not isinstance(args, dict):
        args, error = {}, "arguments are not a JSON object"
    return ToolCall(
        id=f"call_{n}_{uuid.uuid4().hex[:8]}",
        function=obj["name"],
        arguments=args,
        parse_error=error,
    )


def _json_values(text: str) -> list[tuple[int, int, Any]]:
    """(start, end, value) of each top-level JSON object or list found in `text`."""
    decoder = json.JSONDecoder()
    found = []
    i = 0
    while i < len(text):
        if text[i] in "{[":
            try:
                value, end = decoder.raw_decode(text, i)
            except json.JSONDecodeError:
                i += 1
                continue
            found.append((i, end, value))
            i = end
        else:
            i += 1
    return found


def parse_tool_calls(text: str) -> tuple[str, list[ToolCall]]:
    """(the text without its tool-call spans, the calls) from a model's answer."""
    calls: list[ToolCall] = []
    tagged = list(_TAGGED.finditer(text))
    if tagged:
        for m in tagged:
            for _, _, value in _json_values(m.group(1))[:1]:
                for obj in value if isinstance(value, list) else [value]:
                    if call := _call(obj, len(calls)):
                        calls.append(call)
        return _TAGGED.sub("", text).strip(), calls
    spans = []
    for start, end, value in _json_values(text):
        objs = value if isinstance(value, list) else [value]
        found = [c for c in (_call(o, len(calls) + k) for k, o in enumerate(objs)) if c]
        if found and len(found) == len(objs):
            calls.extend(found)
            spans.append((start, end))
    for start, end in reversed(spans):
        text = text[:start] + text[end:]
    return text.strip(), calls
