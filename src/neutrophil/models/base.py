"""The backend contract: a batch of chat requests in, generations out.

Every backend (HF, OpenAI-compatible HTTP, llama.cpp) implements `Backend.generate`.
Defenses never touch a backend's internals: they rewrite `Request`s (system prompt,
user-turn suffix, assistant prefill) or attach an `ActivationEdit` (steering) that a
local backend applies around its forward passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

Message = dict[str, str]  # {"role": "system"|"user"|"assistant", "content": str}


@runtime_checkable
class ActivationEdit(Protocol):
    """Something that changes hidden states while generating (a steering vector, an equalizer).

    `applied` is a context manager installing forward hooks on `model`; `row_scales` holds
    one multiplier per batch row (0 = leave that row alone). It must leave the model exactly
    as it found it on exit.
    """

    def applied(self, model: Any, row_scales: Any) -> AbstractContextManager[None]: ...


@dataclass(frozen=True)
class Request:
    messages: tuple[Message, ...]
    prefill: str = ""  # text the assistant turn starts with (prefix injection)
    max_new_tokens: int = 256
    # Called with prefill + text generated so far; returning True ends this row early.
    # Used to stop as soon as a verdict is decided (a refusal opening, a closed code block,
    # one web action) instead of generating the full budget.
    stop_when: Callable[[str], bool] | None = field(default=None, compare=False)
    edit: ActivationEdit | None = field(default=None, compare=False)
    edit_scale: float = 1.0
    # A prompt text used verbatim instead of rendering `messages` through the chat template
    # (`/v1/completions`). Never derived from client-chosen roles.
    raw_prompt: str | None = None


@dataclass(frozen=True)
class Generation:
    text: str  # the continuation only; the prefill is not included
    prompt_tokens: int
    generated_tokens: int
    stopped_early: bool = False


@runtime_checkable
class Backend(Protocol):
    """A text generator. `name` identifies the model in caches and reports."""

    name: str
    # How a non-empty `Request.prefill` is honoured: "native" (true assistant prefill) or
    # "suffix" (the server cannot prefill; the text is appended to the last user turn).
    prefill_mode: str

    def generate(
        self, requests: Sequence[Request], *, progress: bool = False
    ) -> list[Generation]: ...


@runtime_checkable
class QueueingBackend(Protocol):
    """A backend that takes requests while it decodes (continuous batching): callers with
    work that arrives bit by bit (web episodes, several domains) keep its batch full."""

    def submit_many(self, requests: Sequence[Request]) -> list[Future[Generation]]: ...


def submit(
    backend: Backend, requests: Sequence[Request], *, progress: bool = False
) -> list[Future[Generation]]:
    """Start `requests`: queued on a `QueueingBackend`, else generated now (the futures
    come back done)."""
    if not requests:
        return []
    if isinstance(backend, QueueingBackend):
        return backend.submit_many(requests)
    futures: list[Future[Generation]] = []
    for gen in backend.generate(requests, progress=progress):
        f: Future[Generation] = Future()
        f.set_result(gen)
        futures.append(f)
    return futures


@runtime_checkable
class LocalBackend(Protocol):
    """A backend with its transformers model in memory: hidden states, hooks, gradients."""

    name: str
    model: Any
    tokenizer: Any

    def render(self, messages: Sequence[Message], prefill: str = "") -> str: ...


def require_local(backend: Backend, needs: str = "this") -> LocalBackend:
    """The transformers view of `backend`: itself, or the same weights on transformers for
    an engine without hidden states (llama.cpp's `local_twin`); HTTP servers have none."""
    from neutrophil.errors import UserError

    if isinstance(backend, LocalBackend):
        return backend
    twin = getattr(backend, "local_twin", None)
    if twin is not None:
        return twin()
    raise UserError(f"{backend.name}: {needs} needs a local model (not an HTTP server)")


def user_message(prompt: str, system: str | None = None) -> tuple[Message, ...]:
    msgs: list[Message] = []
    if system:
        msgs.append({"role": "system", "content": system})
    msgs.append({"role": "user", "content": prompt})
    return tuple(msgs)


def as_suffix(messages: Sequence[Message], guard: str) -> tuple[Message, ...]:
    """Suffix fallback for servers that cannot prefill: append the guard to the last user turn."""
    out = [dict(m) for m in messages]
    for m in reversed(out):
        if m["role"] == "user":
            m["content"] = f"{m['content']}\n\n{guard}"
            break
    return tuple(out)
