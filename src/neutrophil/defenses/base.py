"""Defenses rewrite requests before generation. `PromptDefense` covers the text-only ones.

A defense is applied at every generation call, so a web agent gets it again at each step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol, runtime_checkable

from neutrophil.models.base import Backend, Request, as_suffix


@runtime_checkable
class Defense(Protocol):
    name: str

    def describe(self) -> dict[str, Any]:
        """JSON-able description, stored in transcripts and used in cache keys."""
        ...

    def apply(self, backend: Backend, requests: Sequence[Request]) -> list[Request]:
        """Return the defended requests, one per input (gated defenses decide per row);
        what a defense injects into the assistant turn is in each request's `injected`."""
        ...


@dataclass(frozen=True)
class PromptDefense:
    """System-prompt guard, assistant-turn prefix, and/or user-turn suffix.

    A prefix is injected at the start of the assistant turn (prefill). On a backend that
    cannot prefill (`prefill_mode == "suffix"`) it is appended to the user turn instead.
    """

    name: str = "none"
    system: str | None = None
    prefix: str | None = None
    suffix: str | None = None

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name}
        for key in ("system", "prefix", "suffix"):
            if getattr(self, key):
                d[key] = getattr(self, key)
        return d

    def apply(self, backend: Backend, requests: Sequence[Request]) -> list[Request]:
        return [self.apply_one(backend.prefill_mode, r) for r in requests]

    def apply_one(self, prefill_mode: str, r: Request) -> Request:
        messages = r.messages
        if self.system:
            messages = with_system_guard(messages, self.system)
        if self.suffix:
            messages = as_suffix(messages, self.suffix)
        return place_prefix(replace(r, messages=messages), self.prefix, prefill_mode)


def place_prefix(request: Request, prefix: str | None, prefill_mode: str) -> Request:
    """`request` with `prefix` injected where the backend can put it: the start of the
    assistant turn (before any prefill the request has), or, on a backend that cannot
    prefill (`prefill_mode == "suffix"`), the end of the last user turn."""
    if not prefix:
        return request
    if prefill_mode == "suffix":
        return replace(request, messages=as_suffix(request.messages, prefix))
    return replace(request, prefill=prefix + request.prefill, injected=prefix + request.injected)


def with_system_guard(messages: Sequence[dict[str, str]], guard: str) -> tuple[dict[str, str], ...]:
    """Prepend the guard to an existing system message, or add one."""
    out = [dict(m) for m in messages]
    if out and out[0]["role"] == "system":
        out[0]["content"] = f"{guard}\n\n{out[0]['content']}"
    else:
        out.insert(0, {"role": "system", "content": guard})
    return tuple(out)


NO_DEFENSE = PromptDefense()
