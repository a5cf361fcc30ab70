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


def _by_length(tokenizer, prompts: Sequence[str], continuations: Sequence[str] | None) -> list[int]:
    """Row order, longest first, so each batch holds similar lengths (less padding)."""
    from neutrophil.internals.tokens import token_ids

    conts = continuations if continuations is not None else [""] * len(prompts)
    n = [
        len(token_ids(tokenizer, p)) + len(token_ids(tokenizer, c))
        for p, c in zip(prompts, conts, strict=True)
    ]
    return sorted(range(len(prompts)), key=lambda i: -n[i])


def _device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def capture(
    model: nn.Module,
    tokenizer,
    prompts: Sequence[str],
    continuations: Sequence[str] | None = None,
    *,
    layers: Sequence[int] | None = None,
    at: At = "last",
    batch_size: int = 16,
) -> Captured:
    """Activations at one position per row.

    `at="last"`: the last token of prompt + continuation (the last prefix token when the
    continuation is an assistant prefix). `at="prompt_end"`: the last prompt token.
    """
    sel = resolve_layers(model, layers)
    order = _by_length(tokenizer, prompts, continuations)
    ps = [prompts[i] for i in order]
    cs = None if continuations is None else [continuations[i] for i in order]
    out: list[torch.Tensor] = []
    for sl in _batches(len(ps), batch_size):
        conts = None if cs is None else cs[sl]
        enc = encode(tokenizer, ps[sl], conts, _device(model))
        acts = run_batch(model, enc, sel)
        width = acts.shape[1]
        pad = width - torch.tensor(enc.lengths)
        if at == "last":
            col = torch.full_like(pad, width - 1)
        elif at == "prompt_end":
            col = pad + torch.tensor(enc.prompt_lengths) - 1
        else:
            raise ValueError(f"unknown position {at!r}")
        out.append(acts[torch.arange(acts.shape[0]), col])
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
