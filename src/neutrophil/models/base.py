"""The backend contract: a batch of chat requests in, generations out.

Every backend (HF, OpenAI-compatible HTTP, llama.cpp) implements `Backend.generate`.
Defenses never touch a backend's internals: they rewrite `Request`s (system prompt,
user-turn suffix, assistant prefill) or attach an `ActivationEdit` (steering) that a
local backend applies around its forward passes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from tqdm.auto import tqdm

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
    # The part of `prefill` a defense put there (it heads the prefill): what the defended
    # agent says before the model does, which a server shows as the start of its reply.
    injected: str = ""


@dataclass(frozen=True)
class Generation:
    text: str  # the continuation only; the prefill is not included
    prompt_tokens: int
    generated_tokens: int
    stopped_early: bool = False


def whole_chars(text: str) -> str:
    """`text` without the replacement characters that a cut inside a multi-byte character
    leaves at its end: a token budget can end between the bytes of an emoji, and the
    engines' byte-level decoders write each missing byte as U+FFFD. Every engine's answer
    goes through this, so no answer ends in a broken character."""
    return text.rstrip("\ufffd")


@runtime_checkable
class LocalBackend(Protocol):
    """A backend with its transformers model in memory: hidden states, hooks, gradients."""

    name: str
    model: Any
    tokenizer: Any

    def render(self, messages: Sequence[Message], prefill: str = "") -> str: ...


class Backend:
    """The engine contract. Callers ask it what an engine can do; they never probe.

    An engine subclasses this and overrides what it has; the defaults describe an engine
    that has none of it (a plain `generate`).

    - `generate(requests)`: generations in order. `submit_many(requests)`: futures; on an
      engine that `queues` they join its running batch at the next step (continuous
      batching: a long row never holds up the others), else they are generated now.
    - `capacity`: rows it decodes at once (batch slots, or a server's concurrent requests),
      which sizes what callers hand it per chunk.
    - `edits`: how it applies a `Request.edit` (steering): "row" (each row its own strength,
      forward hooks), "group" (rows that share an edit and strength decode together:
      llama.cpp's context-wide control vector) or "none" (refused). `applies(request)`:
      whether it can apply that request's edit (a control vector only adds).
    - `prefill_mode`: how a non-empty `Request.prefill` is honoured: "native" (true
      assistant prefill) or "suffix" (appended to the last user turn).
    - `prompt_text(request)`, `count_tokens(text)`, `context_length`, `chat_template`: the
      exact prompt and its size where the engine renders it itself (None for a server);
      `max_token_chars()`: the most characters one token stands for (a text of C
      characters has at least C / that many tokens; None if unknown).
    - `takes_raw_prompts`: `Request.raw_prompt` is honoured (`/v1/completions`).
    - `remote`: it runs elsewhere (an HTTP server that batches by itself): a server in
      front of it sends one request per call, `capacity` calls at once.
    - `local()`: the transformers view for hidden states (itself, a twin with the same
      weights, or None for a server); `require_local` words the refusal.
    - `tools_view()`: the engine rendering a `template.TOOLS_ROLE` message as its chat
      template's `tools` (tool calling), or None where it renders no tools.
    - `fingerprint`: what decides its tokens (caches and run stores key on it).
    - `continuous(max_rows)`: an engine over the same model that queues: itself when it
      does, else `batching.Batched` (concurrent requests collected into batches of up to
      `max_rows`); what a server drives, so that no request waits for another's batch.
    - `alive()`, `last_step`: whether its decode thread runs, when it last made a step
      (health checks); `close()` frees it.
    """

    name: str = "backend"
    engine: str = "custom"
    prefill_mode: str = "native"
    capacity: int = 1
    queues: bool = False
    edits: str = "none"
    takes_raw_prompts: bool = False
    remote: bool = False
    context_length: int | None = None
    chat_template: str | None = None
    last_step: float = 0.0

    @property
    def fingerprint(self) -> str:
        return f"{self.engine}:{self.name}"

    def generate(self, requests: Sequence[Request], *, progress: bool = False) -> list[Generation]:
        raise NotImplementedError

    def submit_many(
        self, requests: Sequence[Request], *, progress: bool = False
    ) -> list[Future[Generation]]:
        futures: list[Future[Generation]] = []
        for gen in self.generate(requests, progress=progress) if requests else []:
            f: Future[Generation] = Future()
            f.set_result(gen)
            futures.append(f)
        return futures

    def applies(self, request: Request) -> bool:
        return request.edit is None or request.edit_scale == 0 or self.edits != "none"

    def prompt_text(self, request: Request) -> str | None:
        return None

    def count_tokens(self, text: str) -> int | None:
        return None

    def max_token_chars(self) -> int | None:
        return None

    def local(self) -> LocalBackend | None:
        return None

    def tools_view(self) -> Backend | None:
        return None

    def continuous(self, max_rows: int) -> Backend:
        if self.queues:
            return self
        from neutrophil.models.batching import Batched  # it builds on this module

        return Batched(self, max_rows=max_rows)

    def alive(self) -> bool:
        return True

    def close(self) -> None:
        return None


class Over(Backend):
    """An engine that decodes another's model (`inner`): it says of itself what `inner`
    says (name, engine, prefill mode, capacity, edits, ...) and renders, counts tokens and
    reads hidden states through it. `Batched`, `Locked` and `EditRouter` are ones."""

    DESCRIPTION = (
        "name",
        "engine",
        "prefill_mode",
        "capacity",
        "edits",
        "takes_raw_prompts",
        "remote",
        "context_length",
        "chat_template",
    )

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        for attr in self.DESCRIPTION:
            setattr(self, attr, getattr(inner, attr))

    @property
    def fingerprint(self) -> str:
        return self.inner.fingerprint

    def applies(self, request: Request) -> bool:
        return self.inner.applies(request)

    def prompt_text(self, request: Request) -> str | None:
        return self.inner.prompt_text(request)

    def count_tokens(self, text: str) -> int | None:
        return self.inner.count_tokens(text)

    def max_token_chars(self) -> int | None:
        return self.inner.max_token_chars()

    def local(self) -> LocalBackend | None:
        return self.inner.local()


def collect(futures: Sequence[Future[Generation]], *, progress: bool = False) -> list[Generation]:
    """The generations of queued rows, in order, once all are done; on a failure or Ctrl-C
    the rows still queued or decoding are cancelled too."""
    try:
        with tqdm(
            total=len(futures), desc="generate", unit="req", disable=not progress, leave=False
        ) as bar:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                bar.update(len(done))
        return [f.result() for f in futures]
    except BaseException:
        for f in futures:
            f.cancel()
        raise


def require_local(backend: Backend, needs: str = "this") -> LocalBackend:
    """The transformers view of `backend` (`Backend.local`), or a one-line refusal."""
    from neutrophil.errors import UserError

    local = backend.local()
    if local is None:
        raise UserError(f"{backend.name}: {needs} needs a local model (not an HTTP server)")
    return local


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
