"""The plain-transformers way to decode, for benchmarks: `model.generate` with a per-row
stopping criterion. A row marked done stays in the batch (padded) until the last row ends.

`GenerateBackend` is the HF backend with its decoder swapped for this one, so a benchmark
can run the same agent code on either decoder.
"""

from __future__ import annotations

import torch
from transformers import StoppingCriteria, StoppingCriteriaList

from neutrophil.models.greedy import Decoded
from neutrophil.models.hf import HFBackend


class PerRowStop(StoppingCriteria):
    """Marks each row done at its budget or when its `stop_when` fires."""

    def __init__(self, tokenizer, prompt_len: int, requests) -> None:
        self.tokenizer, self.prompt_len, self.requests = tokenizer, prompt_len, requests
        self.stopped_at: list[int | None] = [None] * len(requests)
        self.by_rule = [False] * len(requests)

    def __call__(self, input_ids, scores, **kwargs):
        for i, req in enumerate(self.requests):
            if self.stopped_at[i] is not None:
                continue
            ids = input_ids[i, self.prompt_len :].tolist()
            if len(ids) >= req.max_new_tokens:
                self.stopped_at[i] = len(ids)
            elif req.stop_when is not None:
                text = self.tokenizer.decode(ids, skip_special_tokens=True)
                if req.stop_when(req.prefill + text):
                    self.stopped_at[i], self.by_rule[i] = len(ids), True
        return torch.tensor([s is not None for s in self.stopped_at])


class GenerateBackend(HFBackend):
    def _decode(self, rows, input_ids, attention_mask, **kw) -> list[Decoded]:
        if kw.get("cache") is not None or kw.get("edit_context") is not None:
            raise ValueError("GenerateBackend: no shared prompt KV and no edits (kv_share=False)")
        prompt_len = input_ids.shape[1]
        stop = PerRowStop(self.tokenizer, prompt_len, rows)
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                max_new_tokens=max(r.max_new_tokens for r in rows),
                do_sample=False,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=sorted(self._eos_ids),
                stopping_criteria=StoppingCriteriaList([stop]),
            )
        decoded = []
        for i in range(len(rows)):
            ids = out[i, prompt_len:].tolist()
            ids = ids[: stop.stopped_at[i] or len(ids)]
            ends = [k for k, t in enumerate(ids) if t in self._eos_ids]
            decoded.append(
                Decoded(ids[: ends[0]] if ends else ids, bool(ends), stop.by_rule[i] and not ends)
            )
        return decoded
