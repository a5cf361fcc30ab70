"""OpenAI wire format: request bodies in, response and SSE chunk dicts out.

Unknown fields are ignored (as vLLM and llama.cpp do); known ones are checked, and a bad
one raises `BadRequest`, which the app turns into an OpenAI-style JSON error naming it.
Roles are `system`, `user` and `assistant` only: no client-chosen role reaches an internal
path, and `tool` messages, `tools` and `tool_calls` are refused (no tool calling here).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from neutrophil.models.base import Generation, Message, whole_chars

if TYPE_CHECKING:
    from fastapi import Request as HTTPRequest

ROLES = ("system", "user", "assistant")
MAX_STOPS = 16


class BadRequest(ValueError):
    """A request the server will not serve; the message is sent back to the client."""

    def __init__(
        self,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        status: int = 400,
        kind: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.param = param
        self.code = code
        self.status = status
        self.kind = kind

    def body(self) -> dict[str, Any]:
        return error_body(str(self), self.kind, param=self.param, code=self.code)


@dataclass(frozen=True)
class Call:
    """One parsed request: chat messages (or a raw prompt) and how to generate."""

    messages: tuple[Message, ...]
    prefill: str  # the client's own assistant prefill (a final assistant message)
    max_tokens: int | None  # None: the server's default
    stop: tuple[str, ...]
    stream: bool
    include_usage: bool
    continuous_usage: bool = False  # vLLM's stream_options.continuous_usage_stats
    raw_prompt: str | None = None
    model: str | None = None


def parse_chat(body: Any, *, max_messages: int | None = None) -> Call:
    """`/v1/chat/completions`: a final assistant message is continued (prefill), as llama.cpp
    does, unless the client sends `continue_final_message: false`."""
    _check_object(body)
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise BadRequest("messages must be a non-empty list", param="messages")
    if max_messages is not None and len(raw) > max_messages:
        raise BadRequest(
            f"messages: {len(raw)} messages, over this server's limit of {max_messages} "
            "(--max-messages)",
            param="messages",
            code="max_messages_exceeded",
        )
    _no_tools(body)
    messages = [_message(m, i) for i, m in enumerate(raw)]
    if _flag(body, "continue_final_message", True) and messages[-1]["role"] == "assistant":
        prefill = messages.pop()["content"]
    else:
        prefill = ""
    return Call(messages=tuple(messages), prefill=prefill, **_common(body))


def parse_completion(body: Any) -> Call:
    """`/v1/completions`: one raw prompt string, no chat template."""
    _check_object(body)
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1:
        prompt = prompt[0]
    if not isinstance(prompt, str):
        raise BadRequest("prompt must be a string (one prompt per request)", param="prompt")
    if not prompt:
        raise BadRequest("prompt must not be empty", param="prompt")
    if _flag(body, "echo", False):
        raise BadRequest("echo is not supported", param="echo")
    if body.get("suffix") is not None:
        raise BadRequest("suffix is not supported", param="suffix")
    if body.get("best_of") not in (None, 1):
        raise BadRequest("only best_of=1 is supported", param="best_of")
    return Call(messages=(), prefill="", raw_prompt=prompt, **_common(body))


def _check_object(body: Any) -> None:
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    if body.get("n") not in (None, 1) or isinstance(body.get("n"), bool):
        raise BadRequest("only n=1 is supported", param="n")
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise BadRequest("model must be a string", param="model")


def _no_tools(body: dict[str, Any]) -> None:
    for key in ("tools", "functions"):
        if body.get(key):
            raise BadRequest(
                f"{key}: this server's model does not call tools; send the request without {key}",
                param=key,
                code="tools_not_supported",
            )
    choice = body.get("tool_choice", body.get("function_call"))
    if choice not in (None, "none", "auto"):
        raise BadRequest("tool_choice: no tools are available", param="tool_choice")
    fmt = body.get("response_format")
    if fmt is not None and fmt != {"type": "text"}:
        raise BadRequest(
            'response_format: only {"type": "text"} is supported', param="response_format"
        )


def _common(body: dict[str, Any]) -> dict[str, Any]:
    key = "max_tokens" if body.get("max_tokens") is not None else "max_completion_tokens"
    max_tokens = body.get(key)
    if max_tokens is not None and (
        not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1
    ):
        raise BadRequest(f"{key} must be a positive integer", param=key)
    _number(body, "temperature", 0.0, 2.0)
    _number(body, "top_p", 0.0, 1.0)
    _number(body, "presence_penalty", -2.0, 2.0)
    _number(body, "frequency_penalty", -2.0, 2.0)
    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise BadRequest("seed must be an integer", param="seed")
    if body.get("logprobs") not in (None, False, 0) or body.get("top_logprobs") is not None:
        raise BadRequest("logprobs are not supported", param="logprobs")
    stop = body.get("stop")
    stop = () if stop is None else (stop,) if isinstance(stop, str) else stop
    if (
        not isinstance(stop, (list, tuple))
        or len(stop) > MAX_STOPS
        or not all(isinstance(s, str) and s for s in stop)
    ):
        raise BadRequest(
            f"stop must be a string or a list of at most {MAX_STOPS} non-empty strings",
            param="stop",
        )
    options = body.get("stream_options")
    options = {} if options is None else options
    if not isinstance(options, dict):
        raise BadRequest("stream_options must be an object", param="stream_options")
    return dict(
        max_tokens=max_tokens,
        stop=tuple(stop),
        stream=_flag(body, "stream", False),
        include_usage=_flag(options, "include_usage", False, "stream_options.include_usage"),
        continuous_usage=_flag(
            options, "continuous_usage_stats", False, "stream_options.continuous_usage_stats"
        ),
        model=body.get("model"),
    )


def _flag(obj: dict[str, Any], key: str, default: bool, name: str | None = None) -> bool:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise BadRequest(f"{name or key} must be true or false", param=name or key)
    return value


def _number(body: dict[str, Any], key: str, low: float, high: float) -> None:
    """Sampling knobs are accepted (decoding is greedy) but must be well-formed."""
    value = body.get(key)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise BadRequest(f"{key} must be a number from {low:g} to {high:g}", param=key)


def _message(m: Any, i: int) -> Message:
    where = f"messages[{i}]"
    if not isinstance(m, dict):
        raise BadRequest(f"{where} must be an object", param=where)
    role = m.get("role")
    if role == "tool" or m.get("tool_calls") or m.get("function_call"):
        raise BadRequest(
            f"{where}: tool messages and tool calls are not supported (no tool calling here)",
            param=f"{where}.role",
            code="tools_not_supported",
        )
    if role not in ROLES:
        shown = json.dumps(role)[:40]
        raise BadRequest(
            f"{where}.role must be one of {', '.join(ROLES)} (got {shown})",
            param=f"{where}.role",
        )
    content = m.get("content")
    if content is None and role == "assistant":
        content = ""
    if isinstance(content, list):  # content parts: text ones only
        content = "".join(_text_part(p, f"{where}.content[{j}]") for j, p in enumerate(content))
    if not isinstance(content, str):
        raise BadRequest(
            f"{where}.content must be a string or a list of text parts",
            param=f"{where}.content",
        )
    return {"role": role, "content": content}


def _text_part(part: Any, where: str) -> str:
    if not isinstance(part, dict) or part.get("type", "text") != "text":
        raise BadRequest(f"{where}: only text content parts are supported", param=where)
    text = part.get("text")
    if not isinstance(text, str):
        raise BadRequest(f"{where}.text must be a string", param=f"{where}.text")
    return text


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
    return whole_chars(text)


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


def error_body(
    message: str,
    kind: str = "invalid_request_error",
    *,
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


async def read_json(http: HTTPRequest, limit: int) -> Any:
    """The body as JSON, read no further than `limit` bytes."""
    too_large = BadRequest(
        f"the request body is over this server's limit of {limit} bytes (--max-body-bytes)",
        code="body_too_large",
    )
    length = http.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise too_large
    size, parts = 0, []
    async for part in http.stream():
        size += len(part)
        if size > limit:
            raise too_large
        parts.append(part)
    try:
        return json.loads(b"".join(parts))
    except (ValueError, RecursionError):  # RecursionError: absurdly deep nesting
        raise BadRequest("the request body is not valid JSON") from None
