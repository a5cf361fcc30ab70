"""Server-side limits: what one request may cost, checked before it reaches the model.

Without them one client owns the server: a 1 MB prompt held the CPU for minutes at 2 GB RSS,
and one `max_tokens: 2000` request held a batch for a minute. Each refusal is a 400 that
names the limit and the `neutrophil serve` flag that sets it.
"""

from __future__ import annotations

from dataclasses import dataclass

from neutrophil.models.base import Request
from neutrophil.serve.protocol import BadRequest, Call


@dataclass(frozen=True)
class Limits:
    max_prompt_tokens: int = 4096  # the rendered prompt, guard included
    max_tokens: int = 2048  # the most `max_tokens` a request may ask for
    default_max_tokens: int = 512  # when the request does not say
    max_messages: int = 512
    max_body_bytes: int = 1 << 20

    def __post_init__(self) -> None:
        for name in ("max_prompt_tokens", "max_tokens", "default_max_tokens", "max_messages"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if self.max_body_bytes < 1024:
            raise ValueError("max_body_bytes must be at least 1024")
        if self.default_max_tokens > self.max_tokens:
            raise ValueError("the default max_tokens is over the max_tokens limit")


def check_max_tokens(call: Call, limits: Limits) -> None:
    if call.max_tokens is not None and call.max_tokens > limits.max_tokens:
        raise BadRequest(
            f"max_tokens: {call.max_tokens} is over this server's limit of {limits.max_tokens} "
            "(--max-tokens-limit)",
            param="max_tokens",
            code="max_tokens_exceeded",
        )


def check_prompt_chars(
    request: Request, call: Call, limits: Limits, token_chars: int | None
) -> None:
    """Refuse, without tokenising it, a prompt whose text alone needs more tokens than
    allowed (every token covers at most `token_chars` characters)."""
    if not token_chars:
        return
    chars = sum(len(m["content"]) for m in request.messages)
    chars += len(request.raw_prompt or "") + len(request.prefill)
    at_least = chars // token_chars
    if at_least > limits.max_prompt_tokens:
        raise BadRequest(
            f"prompt: at least {at_least} tokens, over this server's limit of "
            f"{limits.max_prompt_tokens} (--max-prompt-tokens)",
            param="messages" if call.raw_prompt is None else "prompt",
            code="context_length_exceeded",
        )


def token_budget(call: Call, prompt_tokens: int | None, context: int | None, limits: Limits) -> int:
    """`max_new_tokens` for `call`, once its prompt is counted (None: the backend cannot
    count; the upstream server enforces its own context then). A request that does not set
    `max_tokens` gets the default, shortened to what the model's context leaves."""
    if prompt_tokens is not None and prompt_tokens > limits.max_prompt_tokens:
        raise BadRequest(
            f"prompt: {prompt_tokens} tokens, over this server's limit of "
            f"{limits.max_prompt_tokens} (--max-prompt-tokens)",
            param="messages" if call.raw_prompt is None else "prompt",
            code="context_length_exceeded",
        )
    if prompt_tokens is None or context is None:
        return call.max_tokens or limits.default_max_tokens
    room = context - prompt_tokens
    wanted = call.max_tokens or min(limits.default_max_tokens, room)
    if wanted > room or room < 1:
        raise BadRequest(
            f"prompt ({prompt_tokens} tokens) + max_tokens ({wanted}) is over the model's "
            f"context of {context} tokens",
            param="max_tokens",
            code="context_length_exceeded",
        )
    return wanted
