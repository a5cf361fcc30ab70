"""A lane: rows decoded together in one forward pass, over one KV cache left-padded to the
longest row (`ContinuousHF` keeps one lane per length class).

A dense cache pads every row to the longest one, so one 2000-token row among 31 short ones
would cost 32 × 2000 cache slots, and their copy, at every step. Rows are therefore put in
lanes by the length they may reach (prompt + budget, rounded up to a power of two): a lane
holds at most `rows × bound` slots, and a long row costs the short ones one more forward per
step, not their memory. Positions are per row, so padding never shifts what a row sees.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import DynamicCache

from neutrophil.models.cache_arg import cache_kw

SMALLEST_BOUND = 256


def lane_bound(length: int) -> int:
    """The lane for a row that may reach `length` tokens: a power of two, at least 256."""
    return max(SMALLEST_BOUND, 1 << max(0, length - 1).bit_length())


class Lane:
    def __init__(self, bound: int) -> None:
        self.bound = bound
        self.rows: list[Any] = []  # in cache order
        self.cache: DynamicCache | None = None
        self.mask: torch.Tensor | None = None  # [rows, cache columns]
        self.next: torch.Tensor | None = None  # [rows]: picked tokens not yet in the cache
        self.pos: torch.Tensor | None = None  # [rows]: the position of `next`

    def join(
        self,
        rows: list[Any],
        cache: DynamicCache,
        mask: torch.Tensor,
        nxt: torch.Tensor,
        pos: torch.Tensor,
    ) -> None:
        """Add prefilled rows (their cache and its mask, their next tokens and positions),
        left-padding their cache or the lane's to the same length."""
        if not self.rows:
            self.rows, self.cache, self.mask, self.next, self.pos = rows, cache, mask, nxt, pos
            return
        assert self.mask is not None and self.next is not None and self.pos is not None
        width = max(self.mask.shape[1], mask.shape[1])
        for mine, theirs in zip(_layers(self.cache), _layers(cache), strict=True):
            for name in ("keys", "values"):
                a, b = getattr(mine, name), getattr(theirs, name)
                setattr(mine, name, torch.cat([_pad_left(a, width), _pad_left(b, width)]))
        self.mask = torch.cat([_pad_left(self.mask, width, dim=1), _pad_left(mask, width, dim=1)])
        self.next = torch.cat([self.next, nxt])
        self.pos = torch.cat([self.pos, pos])
        self.rows = self.rows + rows

    @torch.inference_mode()
    def step(self, model: Any) -> list[int]:
        """One decode step for every row: the greedy next token of each."""
        assert self.mask is not None and self.next is not None and self.pos is not None
        mask = torch.cat([self.mask, self.mask.new_ones(len(self.rows), 1)], dim=1)
        logits = model(
            input_ids=self.next[:, None],
            attention_mask=mask,
            position_ids=self.pos[:, None],
            **cache_kw(model, self.cache),
            use_cache=True,
            logits_to_keep=1,
        ).logits[:, -1, :]
        self.mask, self.pos = mask, self.pos + 1
        self.next = logits.argmax(-1)
        return self.next.tolist()

    def keep(self, keep: list[int]) -> None:
        """Keep only these rows (by index); drop the cache columns only gone rows used."""
        if len(keep) == len(self.rows):
            return
        if not keep:
            self.clear()
            return
        assert self.cache is not None and self.mask is not None
        assert self.next is not None and self.pos is not None
        sel = torch.tensor(keep, device=self.mask.device)
        self.cache.batch_select_indices(sel)
        self.rows = [self.rows[b] for b in keep]
        self.mask, self.next, self.pos = self.mask[sel], self.next[sel], self.pos[sel]
        used = (self.mask.sum(0) > 0).nonzero()
        first = int(used[0]) if len(used) else 0
        if first > 0:
            self.mask = self.mask[:, first:]
            for layer in _layers(self.cache):
                layer.keys = layer.keys[..., first:, :]
                layer.values = layer.values[..., first:, :]

    def clear(self) -> None:
        self.rows, self.cache, self.mask, self.next, self.pos = [], None, None, None, None


def _layers(cache: DynamicCache | None) -> list:
    assert cache is not None
    return list(cache.layers)


def _pad_left(t: torch.Tensor, width: int, dim: int = -2) -> torch.Tensor:
    """`t` with zero columns prepended along `dim` up to `width` (masked out by the mask)."""
    missing = width - t.shape[dim]
    if missing <= 0:
        return t
    shape = list(t.shape)
    shape[dim] = missing
    return torch.cat([t.new_zeros(shape), t], dim=dim)
