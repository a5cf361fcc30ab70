"""Hugging Face backend: batched greedy generation with left padding and the chat template.

Prefix placement: the prefill is appended right after the chat template's generation
prompt, i.e. it is the first text of the assistant turn, and the model continues from it.
`Generation.text` holds only the continuation; the agent shows the user prefill + text,
because that is what a user of a defended agent would read.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from itertools import groupby

import torch
from tqdm.auto import tqdm
from transformers import StoppingCriteria, StoppingCriteriaList

from neutrophil.models import kv_share
from neutrophil.models.base import Generation, Message, Request

FALLBACK_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


class _RowStopper(StoppingCriteria):
    """Ends each batch row on its own: at its token budget or when its `stop_when` fires."""

    def __init__(self, tokenizer, prompt_len: int, rows: Sequence[Request]) -> None:
        self.tokenizer = tokenizer
        self.prompt_len = prompt_len
        self.rows = rows
        self.stopped_at: list[int | None] = [None] * len(rows)

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        generated = input_ids[:, self.prompt_len :]
        n = generated.shape[1]
        done = torch.zeros(len(self.rows), dtype=torch.bool, device=input_ids.device)
        for i, req in enumerate(self.rows):
            if self.stopped_at[i] is not None:
                done[i] = True
            elif n >= req.max_new_tokens:
                self.stopped_at[i] = n
                done[i] = True
            elif req.stop_when is not None:
                text = self.tokenizer.decode(generated[i], skip_special_tokens=True)
                if req.stop_when(req.prefill + text):
                    self.stopped_at[i] = n
                    done[i] = True
        return done


class HFBackend:
    """Generate with a local `transformers` causal LM."""

    prefill_mode = "native"

    def __init__(
        self, model, tokenizer, *, name: str = "hf", batch_size: int = 32, kv_share: bool = True
    ) -> None:
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.batch_size = batch_size
        # Rows sharing their messages (one task, many candidate prefixes) reuse one prompt KV.
        self.kv_share = kv_share
        tokenizer.padding_side = "left"
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        if not getattr(tokenizer, "chat_template", None):
            tokenizer.chat_template = FALLBACK_TEMPLATE
        self._eos_ids = self._collect_eos_ids()

    def _collect_eos_ids(self) -> set[int]:
        ids = self.model.generation_config.eos_token_id
        ids = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
        if self.tokenizer.eos_token_id is not None:
            ids.add(self.tokenizer.eos_token_id)
        return ids

    def render(self, messages: Sequence[Message], prefill: str = "") -> str:
        """The exact prompt text: chat template with generation prompt, then the prefill."""
        text = self.tokenizer.apply_chat_template(
            list(messages), tokenize=False, add_generation_prompt=True
        )
        return text + prefill

    def generate(self, requests: Sequence[Request], *, progress: bool = False) -> list[Generation]:
        texts = [self.render(r.messages, r.prefill) for r in requests]
        token_rows = [self.tokenizer(t, add_special_tokens=False).input_ids for t in texts]
        lengths = [len(ids) for ids in token_rows]
        results: list[Generation | None] = [None] * len(requests)
        bar = tqdm(
            total=len(requests), desc="generate", unit="req", disable=not progress, leave=False
        )
        shared = self._shared_groups(requests) if self.kv_share else []
        for chunk in kv_share.chunks(shared, self.batch_size, lengths):
            rows = [i for g in chunk for i in g]
            outs = self._generate_shared(requests, token_rows, chunk)
            for i, out in zip(rows, outs, strict=True):
                results[i] = out
            bar.update(len(rows))
        done = {i for g in shared for i in g}
        rest = [i for i in range(len(requests)) if i not in done]
        # Batch rows that share an activation edit, longest prompts first (less padding).
        order = sorted(rest, key=lambda i: (id(requests[i].edit), -lengths[i]))
        for _, group in groupby(order, key=lambda i: id(requests[i].edit)):
            idx = list(group)
            for start in range(0, len(idx), self.batch_size):
                chunk = idx[start : start + self.batch_size]
                outs = self._generate_batch([requests[i] for i in chunk], [texts[i] for i in chunk])
                for i, out in zip(chunk, outs, strict=True):
                    results[i] = out
                bar.update(len(chunk))
        bar.close()
        return [r for r in results if r is not None]

    @torch.inference_mode()
    def _generate_batch(self, rows: Sequence[Request], texts: Sequence[str]) -> list[Generation]:
        enc = self.tokenizer(
            list(texts), return_tensors="pt", padding=True, add_special_tokens=False
        )
        enc = enc.to(self.model.device)
        prompt_len = enc.input_ids.shape[1]
        stopper = _RowStopper(self.tokenizer, prompt_len, rows)
        edit = rows[0].edit
        scales = torch.tensor([r.edit_scale for r in rows], dtype=self.model.dtype)
        ctx = edit.applied(self.model, scales) if edit is not None else nullcontext()
        with ctx:
            out = self._greedy(rows, stopper, **enc)
        return self._finish(rows, out, prompt_len, stopper, enc.attention_mask.sum(-1).tolist())

    def _shared_groups(self, requests: Sequence[Request]) -> list[list[int]]:
        """Index groups of ≥2 unedited rows with the same messages (they differ in prefill)."""
        if not kv_share.supported(self.model):
            return []
        by_messages: dict[str, list[int]] = {}
        for i, r in enumerate(requests):
            if r.edit is None:
                key = self.render(r.messages)
                by_messages.setdefault(key, []).append(i)
        return [g for g in by_messages.values() if len(g) >= 2]

    @torch.inference_mode()
    def _generate_shared(
        self,
        requests: Sequence[Request],
        token_rows: Sequence[list[int]],
        groups: Sequence[Sequence[int]],
    ) -> list[Generation]:
        """Generate rows of `groups` (flattened, in order), computing each group's prompt once."""
        order = [i for g in groups for i in g]
        local = {i: k for k, i in enumerate(order)}
        batch = kv_share.plan(
            [token_rows[i] for i in order], [[local[i] for i in g] for g in groups]
        )
        cache, input_ids, mask = kv_share.prefill_shared(
            self.model, batch, self.tokenizer.pad_token_id
        )
        rows = [requests[i] for i in order]
        prompt_len = input_ids.shape[1]
        stopper = _RowStopper(self.tokenizer, prompt_len, rows)
        out = self._greedy(
            rows, stopper, input_ids=input_ids, attention_mask=mask, past_key_values=cache
        )
        return self._finish(rows, out, prompt_len, stopper, [len(token_rows[i]) for i in order])

    def _greedy(self, rows: Sequence[Request], stopper: _RowStopper, **inputs):
        return self.model.generate(
            **inputs,
            max_new_tokens=max(r.max_new_tokens for r in rows),
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=sorted(self._eos_ids),
            stopping_criteria=StoppingCriteriaList([stopper]),
        )

    def _finish(
        self, rows, out, prompt_len: int, stopper: _RowStopper, prompt_tokens
    ) -> list[Generation]:
        gens = []
        for i, row in enumerate(rows):
            tokens = out[i, prompt_len:].tolist()
            stop = stopper.stopped_at[i]
            n = len(tokens) if stop is None else min(stop, len(tokens))
            hit_eos = False
            for j, t in enumerate(tokens[:n]):
                if t in self._eos_ids:
                    n, hit_eos = j, True
                    break
            gens.append(
                Generation(
                    text=self.tokenizer.decode(tokens[:n], skip_special_tokens=True),
                    prompt_tokens=int(prompt_tokens[i]),
                    generated_tokens=n + hit_eos,  # the EOS was generated too
                    stopped_early=stop is not None and stop < row.max_new_tokens,
                )
            )
        return gens
