"""Capture the residual stream after each decoder block, in one batched forward pass.

"Layer N" is the output of decoder block N (0-based), i.e. HF `hidden_states[N + 1]` for
all but the last block (see the package docstring for the llama.cpp correspondence).
Batches are left padded; position ids follow the attention mask, so a padded row gets
the same activations as the row alone. The forward pass stops after the deepest layer
asked for, so the LM head never runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from neutrophil.internals.layers import decoder_layers, hidden_of, resolve_layers
from neutrophil.internals.tokens import Encoded, encode
from neutrophil.models.cache_arg import cache_kw
from neutrophil.models.kv_share import common_prefix_len

At = Literal["last", "prompt_end"]


@dataclass(frozen=True)
class Captured:
    """Activations at one position per row: `acts[row, i]` is layer `layers[i]`."""

    layers: tuple[int, ...]
    acts: torch.Tensor  # [rows, len(layers), hidden], float32, cpu

    def layer(self, n: int) -> torch.Tensor:
        """[rows, hidden] activations of layer n."""
        return self.acts[:, self.layers.index(n)]


@dataclass(frozen=True)
class TokenActs:
    """Activations at every token of one row (padding removed)."""

    layers: tuple[int, ...]
    tokens: tuple[int, ...]
    prompt_len: int  # tokens[:prompt_len] are the prompt, the rest the continuation
    acts: torch.Tensor  # [tokens, len(layers), hidden]

    def layer(self, n: int) -> torch.Tensor:
        return self.acts[:, self.layers.index(n)]


class _Stop(Exception):
    """Raised by the deepest hook to end the forward pass early."""


@contextmanager
def _recording(model: nn.Module, layers: tuple[int, ...]) -> Iterator[dict[int, torch.Tensor]]:
    blocks = decoder_layers(model)
    store: dict[int, torch.Tensor] = {}
    deepest = max(layers)

    def make(i: int):
        def hook(_mod, _inp, out):
            store[i] = hidden_of(out).detach()
            if i == deepest:
                raise _Stop

        return hook

    handles = [blocks[i].register_forward_hook(make(i)) for i in layers]
    try:
        yield store
    finally:
        for h in handles:
            h.remove()


def run_batch(model: nn.Module, enc: Encoded, layers: tuple[int, ...]) -> torch.Tensor:
    """[B, T, len(layers), hidden] block outputs for one encoded batch."""
    with torch.inference_mode(), _recording(model, layers) as store, suppress(_Stop):
        model(
            input_ids=enc.input_ids,
            attention_mask=enc.attention_mask,
            position_ids=enc.position_ids,
            use_cache=False,
        )
    return torch.stack([store[i] for i in layers], dim=2).float().cpu()


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def _prefix_cache(model: nn.Module, ids: list[int], layers: tuple[int, ...]):
    """The KV cache of one shared prefix (blocks up to the deepest requested layer)."""
    from transformers import DynamicCache

    cache = DynamicCache()
    t = torch.tensor([ids], device=_device(model))
    with torch.inference_mode(), _recording(model, layers), suppress(_Stop):
        model(input_ids=t, **cache_kw(model, cache), use_cache=True)
    return cache


def _run_suffixes(
    model: nn.Module,
    cache,
    prefix_len: int,
    rows: Sequence[Sequence[int]],
    layers: tuple[int, ...],
) -> torch.Tensor:
    """[B, T, L, hidden] block outputs for the suffixes (right padded) after the prefix."""
    import copy

    width = max(len(r) for r in rows)
    dev = _device(model)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), prefix_len + width), dtype=torch.long)
    mask[:, :prefix_len] = 1
    for b, r in enumerate(rows):
        ids[b, : len(r)] = torch.tensor(r)
        mask[b, prefix_len : prefix_len + len(r)] = 1
    pos = torch.arange(prefix_len, prefix_len + width).expand(len(rows), -1)
    past = copy.deepcopy(cache)
    past.batch_repeat_interleave(len(rows))
    with torch.inference_mode(), _recording(model, layers) as store, suppress(_Stop):
        model(
            input_ids=ids.to(dev),
            attention_mask=mask.to(dev),
            position_ids=pos.to(dev),
            **cache_kw(model, past),
            use_cache=True,
        )
    return torch.stack([store[i] for i in layers], dim=2).float().cpu()


def capture(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[str],
    continuations: Sequence[str] | None = None,
    *,
    layers: Sequence[int] | None = None,
    at: At = "last",
    batch_size: int = 16,
    share_prefix: bool = True,
) -> Captured:
    """Activations at one position per row.

    `at="last"`: the last token of prompt + continuation (the last prefix token when the
    continuation is an assistant prefix). `at="prompt_end"`: the last prompt token.

    Rows are batched longest first (less padding). With `share_prefix`, the token prefix
    that all rows share (the chat template's system turn, say) runs once and its KV cache
    is reused by every batch; the activations are the same as without sharing.
    """
    from neutrophil.internals.tokens import token_ids

    if at not in ("last", "prompt_end"):
        raise ValueError(f"unknown position {at!r}")
    sel = resolve_layers(model, layers)
    conts = list(continuations) if continuations is not None else [""] * len(prompts)
    if len(conts) != len(prompts):
        raise ValueError("prompts and continuations differ in length")
    if not prompts:
        raise ValueError("nothing to capture")
    plens = [len(token_ids(tokenizer, p)) for p in prompts]
    rows = [
        token_ids(tokenizer, p) + token_ids(tokenizer, c)
        for p, c in zip(prompts, conts, strict=True)
    ]
    for i, r in enumerate(rows):
        if not r:
            raise ValueError(f"row {i}: empty text")
    # The read position must lie after the shared part, in every row.
    reads = [
        len(r) - 1 if at == "last" else max(pl - 1, 0) for r, pl in zip(rows, plens, strict=True)
    ]
    shared = common_prefix_len(rows) if share_prefix and len(rows) > 1 else 0
    shared = min(shared, min(reads))
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i]))
    out: list[torch.Tensor] = []
    if shared >= 2:
        cache = _prefix_cache(model, rows[0][:shared], sel)
        for sl in _batches(len(order), batch_size):
            idx = order[sl]
            acts = _run_suffixes(model, cache, shared, [rows[i][shared:] for i in idx], sel)
            col = torch.tensor([reads[i] - shared for i in idx])
            out.append(acts[torch.arange(len(idx)), col])
    else:
        for sl in _batches(len(order), batch_size):
            idx = order[sl]
            enc = encode(
                tokenizer, [prompts[i] for i in idx], [conts[i] for i in idx], _device(model)
            )
            acts = run_batch(model, enc, sel)
            pad = acts.shape[1] - torch.tensor(enc.lengths)
            col = pad + torch.tensor([reads[i] for i in idx])
            out.append(acts[torch.arange(len(idx)), col])
    back = torch.argsort(torch.tensor(order))  # to the caller's row order
    return Captured(sel, torch.cat(out)[back])


def capture_tokens(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[str],
    continuations: Sequence[str] | None = None,
    *,
    layers: Sequence[int] | None = None,
    batch_size: int = 16,
) -> list[TokenActs]:
    """Activations at every real token, one `TokenActs` per row."""
    sel = resolve_layers(model, layers)
    rows: list[TokenActs] = []
    for sl in _batches(len(prompts), batch_size):
        conts = None if continuations is None else continuations[sl]
        enc = encode(tokenizer, prompts[sl], conts, _device(model))
        acts = run_batch(model, enc, sel)
        width = acts.shape[1]
        for b, n in enumerate(enc.lengths):
            ids = enc.input_ids[b, width - n :].tolist()
            rows.append(TokenActs(sel, tuple(ids), enc.prompt_lengths[b], acts[b, width - n :]))
    return rows
