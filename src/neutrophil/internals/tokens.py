"""Tokenise prompt (+ continuation) texts into one left-padded batch.

The prompt and the continuation (an assistant prefix, a completion) are tokenised apart
and concatenated, so the boundary between them is an exact token index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Encoded:
    input_ids: torch.Tensor  # [B, T], left padded
    attention_mask: torch.Tensor  # [B, T]
    position_ids: torch.Tensor  # [B, T], 0 at each row's first real token
    lengths: tuple[int, ...]  # real tokens per row
    prompt_lengths: tuple[int, ...]  # tokens of the prompt part per row

    @property
    def pad(self) -> torch.Tensor:
        """Left padding per row: row b's token t sits at column pad[b] + t."""
        return self.input_ids.shape[1] - torch.tensor(self.lengths)


def token_ids(tokenizer, text: str) -> list[int]:
    # Rendered chat text already holds its special tokens, so never add more.
    return list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []


def encode(
    tokenizer,
    prompts: Sequence[str],
    continuations: Sequence[str] | None = None,
    device: torch.device | str = "cpu",
) -> Encoded:
    if continuations is not None and len(continuations) != len(prompts):
        raise ValueError("prompts and continuations differ in length")
    rows: list[list[int]] = []
    plens: list[int] = []
    for i, p in enumerate(prompts):
        ids = token_ids(tokenizer, p)
        plens.append(len(ids))
        if continuations is not None:
            ids = ids + token_ids(tokenizer, continuations[i])
        if not ids:
            raise ValueError(f"row {i}: empty text")
        rows.append(ids)
    width = max(len(r) for r in rows)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    ids_t = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for b, r in enumerate(rows):
        ids_t[b, width - len(r) :] = torch.tensor(r)
        mask[b, width - len(r) :] = 1
    pos = (mask.cumsum(-1) - 1).clamp(min=0)
    return Encoded(
        ids_t.to(device),
        mask.to(device),
        pos.to(device),
        tuple(len(r) for r in rows),
        tuple(plens),
    )
