"""OpenAI wire format: request bodies in, response and SSE chunk dicts out.

Parsing is lenient (unknown fields are ignored, as vLLM and llama.cpp do) and the bad cases
raise `BadRequest`, which the app turns into an OpenAI-style 400 error.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from neutrophil.models.base import Generation, Message


class BadRequest(ValueError):
    """A malformed request body; the message is sent back to the client."""


@dataclass(frozen=True)
class Call:
    """One parsed request: chat messages (or a raw prompt) and how to generate."""

    messages: tuple[Message, ...]
    prefill: str  # the client's own assistant prefill (a final assistant message)
    max_tokens: int
    stop: tuple[str, ...]
    stream: bool
    include_usage: bool
    continuous_usage: bool = False  # vLLM's stream_options.continuous_usage_stats
    raw_prompt: str | None = None


def parse_chat(body: Any, default_max_tokens: int) -> Call:
    """`/v1/chat/completions`: a final assistant message is continued (prefill), as llama.cpp
    does, unless the client sends `continue_final_message: false`."""
    _check_object(body)
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise BadRequest("messages must be a non-empty list")
    messages = [_message(m, i) for i, m in enumerate(raw)]
    prefill = ""
    if messages[-1]["role"] == "assistant" and body.get("continue_final_message", True):
        prefill = messages.pop()["content"]
    return Call(messages=tuple(messages), prefill=prefill, **_common(body, default_max_tokens))


def parse_completion(body: Any, default_max_tokens: int) -> Call:
    """`/v1/completions`: one raw prompt string, no chat template."""
    _check_object(body)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise BadRequest("prompt must be a string (one prompt per request)")
    if body.get("echo"):
        raise BadRequest("echo is not supported")
    return Call(messages=(), prefill="", raw_prompt=prompt, **_common(body, default_max_tokens))


def _check_object(body: Any) -> None:
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    if body.get("n", 1) != 1:
        raise BadRequest("only n=1 is supported")


def _common(body: dict[str, Any], default_max_tokens: int) -> dict[str, Any]:
    max_tokens = body.get("max_tokens", body.get("max_completion_tokens")) or default_max_tokens
    if not isinstance(max_tokens, int) or max_tokens < 1:
        raise BadRequest("max_tokens must be a positive integer")
    stop = body.get("stop") or ()
    stop = (stop,) if isinstance(stop, str) else tuple(stop)
    if not all(isinstance(s, str) and s for s in stop):
        raise BadRequest("stop must be a string or a list of non-empty strings")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise BadRequest("stream_options must be an object")
    return dict(
        max_tokens=max_tokens,
        stop=stop,
        stream=bool(body.get("stream")),
        include_usage=bool(options.get("include_usage")),
        continuous_usage=bool(options.get("continuous_usage_stats")),
    )


def _message(m: Any, i: int) -> Message:
    if not isinstance(m, dict) or not isinstance(m.get("role"), str):
        raise BadRequest(f"messages[{i}] must be an object with a role")
    content = m.get("content") or ""
    if isinstance(content, list):  # content parts: keep the text ones
        content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
    if not isinstance(content, str):
        raise BadRequest(f"messages[{i}].content must be a string or a list of text parts")
    return {"role": m["role"], "content": content}


# -- stop strings and streaming ---------------------------------------------------------


def cut_at_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    """`text` up to the first stop string, and whether one was found."""
    ends = [i for i in (text.find(s) for s in stop) if i >= 0]
    return (text[: min(ends)], True) if ends else (text, False)


def visible(text: str, stop: tuple[str, ...]) -> str:
    """What may be streamed of an unfinished `text`: never past a stop string, and holding
    back a tail that could still grow into one, or an undecoded partial UTF-8 character."""
    text, found = cut_at_stop(text, stop)
    if not found and stop:
        hold = max(len(s) for s in stop) - 1
        text = text[: len(text) - hold] if hold else text
    return text.rstrip("\ufffd")


# -- responses ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """Ids shared by all chunks of one response."""

    model: str
    chat: bool
    id: str
    created: int

    @classmethod
    def new(cls, model: str, chat: bool) -> Reply:
        prefix = "chatcmpl" if chat else "cmpl"
        return cls(model, chat, f"{prefix}-{uuid.uuid4().hex[:24]}", int(time.time()))

    def _head(self, obj: str) -> dict[str, Any]:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model}

    def full(self, content: str, gen: Generation, finish: str) -> dict[str, Any]:
        if self.chat:
            choice = {"index": 0, "message": {"role": "assistant", "content": content}}
        else:
            choice = {"index": 0, "text": content, "logprobs": None}
        choice["finish_reason"] = finish
        head = self._head("chat.completion" if self.chat else "text_completion")
        return {**head, "choices": [choice], "usage": usage(gen)}

    def chunk(
        self,
        content: str | None = None,
        finish: str | None = None,
        *,
        role: bool = False,
        so_far: dict[str, int] | None = None,
    ) -> str:
        if self.chat:
            delta: dict[str, str] = {"role": "assistant"} if role else {}
            if content:
                delta["content"] = content
            choice: dict[str, Any] = {"index": 0, "delta": delta}
        else:
            choice = {"index": 0, "text": content or "", "logprobs": None}
        choice["finish_reason"] = finish
        obj = "chat.completion.chunk" if self.chat else "text_completion"
        extra = {"usage": so_far} if so_far else {}
        return sse({**self._head(obj), "choices": [choice], **extra})

    def usage_chunk(self, gen: Generation) -> str:
        obj = "chat.completion.chunk" if self.chat else "text_completion"
        return sse({**self._head(obj), "choices": [], "usage": usage(gen)})


def usage(gen: Generation) -> dict[str, int]:
    return usage_of(gen.prompt_tokens, gen.generated_tokens)


def usage_of(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data)}\n\n"


def error_body(message: str, kind: str = "invalid_request_error") -> dict[str, Any]:
    return {"error": {"message": message, "type": kind}}
