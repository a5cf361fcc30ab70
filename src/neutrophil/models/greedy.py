"""Greedy decoding that drops each row from the batch the moment it ends.

`model.generate` keeps finished rows in the batch (padding them) until the last row is
done, so stopping a row early saves no compute: one compliant answer running to its token
budget keeps a batch of 64 rows busy. Here every step removes the rows that just ended
(EOS, their own budget, or their `stop_when` rule) from the input, the attention mask and
the KV cache, so the cost of a batch follows the tokens its rows actually need.

Tokens are the ones `model.generate(do_sample=False)` picks (tests/test_greedy.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass

import torch
from transformers import DynamicCache

from neutrophil.models.base import Request
from neutrophil.models.cache_arg import cache_kw


@dataclass(frozen=True)
class Decoded:
    tokens: list[int]  # generated tokens, the ending EOS excluded
    hit_eos: bool
    stopped_early: bool  # its `stop_when` fired before the token budget


@torch.inference_mode()
def decode(
    model,
    rows: Sequence[Request],
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    eos_ids: set[int],
    detokenize: Callable[[list[int]], str],
    cache: DynamicCache | None = None,
    edit_context: Callable[[torch.Tensor], AbstractContextManager[None]] | None = None,
) -> list[Decoded]:
    """Greedy-decode left-padded `input_ids`; `cache` may already hold leading columns.

    `edit_context(row_indices)` returns the activation edit for those original rows; it is
    re-entered whenever the batch shrinks, so per-row edits stay aligned with their rows.
    """
    if any(r.max_new_tokens < 1 for r in rows):
        raise ValueError("every request needs max_new_tokens >= 1")
    if cache is None:
        cache = DynamicCache(config=model.config)
    mask = attention_mask
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    cached = cache.get_seq_length()
    ids, pos = input_ids[:, cached:], positions[:, cached:]
    alive = torch.arange(len(rows))
    tokens: list[list[int]] = [[] for _ in rows]
    ends: list[str] = [""] * len(rows)
    with ExitStack() as edit:
        edit.enter_context(edit_context(alive) if edit_context else nullcontext())
        while True:
            logits = model(
                input_ids=ids,
                attention_mask=mask,
                position_ids=pos,
                **cache_kw(model, cache),
                use_cache=True,
                logits_to_keep=1,
            ).logits[:, -1, :]
            picked = logits.argmax(-1)
            keep: list[int] = []
            for b, (i, t) in enumerate(zip(alive.tolist(), picked.tolist(), strict=True)):
                row = rows[i]
                if t in eos_ids:
                    ends[i] = "eos"
                    continue
                tokens[i].append(t)
                if len(tokens[i]) >= row.max_new_tokens:
                    ends[i] = "budget"
                elif row.stop_when is not None and row.stop_when(
                    row.prefill + detokenize(tokens[i])
                ):
                    ends[i] = "stop"
                else:
                    keep.append(b)
            if not keep:
                break
            if len(keep) < len(alive):
                sel = torch.tensor(keep, device=mask.device)
                cache.batch_select_indices(sel)
                mask, picked, pos = mask[sel], picked[sel], pos[sel]
                alive = alive[sel.cpu()]
                edit.close()
                edit.enter_context(edit_context(alive) if edit_context else nullcontext())
            mask = torch.cat([mask, mask.new_ones(len(keep), 1)], dim=1)
            ids, pos = picked[:, None], pos[:, -1:] + 1
    return [
        Decoded(toks, end == "eos", end == "stop") for toks, end in zip(tokens, ends, strict=True)
    ]
