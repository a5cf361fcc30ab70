"""Chat conversations -> token ids with labels on assistant tokens only.

Every non-assistant token (system, user, the template's role headers) gets label -100, so
the loss teaches the model what to answer, never what users say. The assistant spans are
found by rendering growing prefixes of the conversation with the model's own chat template
and diffing the strings, which works for any template that renders prefix-stably (ChatML,
Llama-3, Gemma, ...), including ones that add a default system prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

IGNORE = -100

Message = dict[str, str]


@dataclass(frozen=True)
class Example:
    input_ids: tuple[int, ...]
    labels: tuple[int, ...]  # IGNORE where no loss

    @property
    def n_targets(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)


def _render(tokenizer, messages: Sequence[Message], generation_prompt: bool = False) -> str:
    if not messages:
        return ""
    return tokenizer.apply_chat_template(
        list(messages), tokenize=False, add_generation_prompt=generation_prompt
    )


def segments(tokenizer, messages: Sequence[Message]) -> list[tuple[str, bool]]:
    """Split the rendered conversation into (text, is_target) pieces, in order.

    A target piece is one assistant message's content plus the end-of-turn token that
    follows it (so the model learns to stop); the template's text around it is context.
    """
    eot = tokenizer.eos_token or ""
    pieces: list[tuple[str, bool]] = []
    done = ""
    for k, msg in enumerate(messages):
        full = _render(tokenizer, messages[: k + 1])
        if not full.startswith(done):
            raise ValueError("chat template does not render conversations prefix-stably")
        if msg["role"] != "assistant":
            pieces.append((full[len(done) :], False))
            done = full
            continue
        head = _render(tokenizer, messages[:k], generation_prompt=True)
        if not (head.startswith(done) and full.startswith(head)):
            raise ValueError(
                "chat template's generation prompt is not a prefix of the assistant turn"
            )
        body = full[len(head) :]
        start = body.find(msg["content"])
        if start < 0:
            raise ValueError("assistant content not found verbatim in the rendered turn")
        end = start + len(msg["content"])
        if eot and body.startswith(eot, end):
            end += len(eot)
        pieces.append((head[len(done) :] + body[:start], False))
        pieces.append((body[start:end], True))
        pieces.append((body[end:], False))
        done = full
    return [(text, target) for text, target in pieces if text]


def encode(tokenizer, messages: Sequence[Message], max_length: int | None = None) -> Example:
    """Token ids of the rendered conversation, labels = ids on target pieces, else IGNORE.

    Pieces are tokenized one by one so no token straddles a context/target boundary.
    Truncation keeps the start (the prompt) and cuts the end.
    """
    ids: list[int] = []
    labels: list[int] = []
    for text, target in segments(tokenizer, messages):
        piece = tokenizer(text, add_special_tokens=False).input_ids
        ids.extend(piece)
        labels.extend(piece if target else [IGNORE] * len(piece))
    if max_length is not None:
        ids, labels = ids[:max_length], labels[:max_length]
    return Example(tuple(ids), tuple(labels))


def target_text(tokenizer, example: Example) -> str:
    """The text that carries loss, decoded (for checking a mask by eye or in tests)."""
    return tokenizer.decode(
        [i for i, lab in zip(example.input_ids, example.labels, strict=True) if lab != IGNORE]
    )
