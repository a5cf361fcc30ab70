"""Shared-prompt generation: rows that share messages but differ in prefill reuse one prompt KV.

A prefix search scores many candidate prefixes on the same tasks, so one generate call holds
rows like `[chat template + task prompt][candidate prefix]`. The bracketed prompt is the same
for every candidate: we run it through the model once per task, copy its KV cache to each
row, and only the candidate's own tokens (and the generation) are computed per row.

Layout of a batch (one task group `g` per shared prompt, rows `i` within it):

    [left pad][shared prompt of g][middle pad][tail of row i]   (tail = tokens after the LCP)

Position ids come from the attention mask's cumulative sum, so the middle padding is
invisible: a row sees exactly the positions and keys it would see if computed from scratch.
The shared part is the token-level longest common prefix of the rows' full token sequences
(not of the texts), so tokenisation is identical to the one-shot path; it always leaves at
least one token per row uncomputed, because the first generated token needs fresh logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import DynamicCache

from neutrophil.models.cache_arg import cache_kw

# Architectures whose decoder uses one full-attention KV layer per block and rotary/absolute
# positions taken from `position_ids` (checked against recomputation in tests/test_kv_share.py).
SUPPORTED_TYPES = frozenset({"llama", "qwen2"})


def supported(model) -> bool:
    config = model.config
    if getattr(config, "model_type", None) not in SUPPORTED_TYPES:
        return False
    # A sliding window changes which cached keys a row attends to; keep those on the plain path.
    return not getattr(config, "use_sliding_window", False)


@dataclass(frozen=True)
class SharedBatch:
    """Token layout for one generate call over several shared-prompt groups."""

    shared: list[list[int]]  # per group: the shared prompt tokens
    tails: list[list[int]]  # per row: tokens after its group's shared prompt
    group_of: list[int]  # per row: index into `shared`


def common_prefix_len(seqs: Sequence[Sequence[int]]) -> int:
    n = min(len(s) for s in seqs)
    first = seqs[0]
    for k in range(n):
        t = first[k]
        if any(s[k] != t for s in seqs[1:]):
            return k
    return n


def plan(token_rows: Sequence[Sequence[int]], groups: Sequence[Sequence[int]]) -> SharedBatch:
    """Split each row into its group's shared prompt and its own tail (≥ 1 token)."""
    shared: list[list[int]] = []
    tails: list[list[int]] = [[] for _ in token_rows]
    group_of = [0] * len(token_rows)
    for g, rows in enumerate(groups):
        seqs = [token_rows[i] for i in rows]
        k = min(common_prefix_len(seqs), min(len(s) for s in seqs) - 1)
        shared.append(list(seqs[0][:k]))
        for i in rows:
            tails[i] = list(token_rows[i][k:])
            group_of[i] = g
    return SharedBatch(shared, tails, group_of)


def _left_pad(
    seqs: Sequence[Sequence[int]], width: int, pad: int
) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.full((len(seqs), width), pad, dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for r, s in enumerate(seqs):
        if s:
            ids[r, width - len(s) :] = torch.tensor(s, dtype=torch.long)
            mask[r, width - len(s) :] = 1
    return ids, mask


@torch.inference_mode()
def prefill_shared(model, batch: SharedBatch, pad_id: int):
    """Run the shared prompts once; return (cache expanded to rows, input_ids, attention_mask).

    The returned ids/mask cover the whole sequence (shared + middle pad + tail); the cache
    covers the shared columns, so `generate` computes only the tails.
    """
    device = model.device
    width = max(len(s) for s in batch.shared)
    ids_s, mask_s = _left_pad(batch.shared, width, pad_id)
    tail_w = max(len(t) for t in batch.tails)
    ids_t, mask_t = _left_pad(batch.tails, tail_w, pad_id)
    index = torch.tensor(batch.group_of, dtype=torch.long)
    input_ids = torch.cat([ids_s[index], ids_t], dim=1).to(device)
    attention_mask = torch.cat([mask_s[index], mask_t], dim=1).to(device)
    cache = DynamicCache(config=model.config)
    if width > 0:
        ids_s, mask_s = ids_s.to(device), mask_s.to(device)
        positions = (mask_s.cumsum(-1) - 1).masked_fill(mask_s == 0, 0)
        model(
            input_ids=ids_s,
            attention_mask=mask_s,
            position_ids=positions,
            **cache_kw(model, cache),
            use_cache=True,
        )
        cache.batch_select_indices(index.to(device))
    return cache, input_ids, attention_mask


def chunks(
    groups: Sequence[Sequence[int]], batch_size: int, lengths: Sequence[int]
) -> list[list[list[int]]]:
    """Pack groups into generate calls of at most `batch_size` rows; a big group is split.

    Longer prompts first, so each call's rows have similar lengths (less padding).
    """
    pieces = [list(g[k : k + batch_size]) for g in groups for k in range(0, len(g), batch_size)]
    pieces = [p for p in pieces if len(p) >= 1]
    pieces.sort(key=lambda p: -max(lengths[i] for i in p))
    out: list[list[list[int]]] = []
    size = 0
    for p in pieces:
        if not out or size + len(p) > batch_size:
            out.append([])
            size = 0
        out[-1].append(p)
        size += len(p)
    return out
