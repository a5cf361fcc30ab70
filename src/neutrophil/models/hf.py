"""Hugging Face backend: batched greedy generation with left padding and the chat template.

Prefix placement: the prefill is appended right after the chat template's generation
prompt, i.e. it is the first text of the assistant turn, and the model continues from it.
`Generation.text` holds only the continuation; the agent shows the user prefill + text,
because that is what a user of a defended agent would read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from functools import cached_property
from itertools import groupby

import torch
from tqdm.auto import tqdm

from neutrophil.models import kv_share
from neutrophil.models.base import Backend, Generation, Message, Request, whole_chars
from neutrophil.models.fingerprint import hf_fingerprint
from neutrophil.models.greedy import Decoded, decode
from neutrophil.models.template import FALLBACK_TEMPLATE, TOOLS_ROLE


class HFBackend(Backend):
    """Generate with a local `transformers` causal LM."""

    engine = "hf"
    edits = "row"  # forward hooks scale each row on its own
    takes_raw_prompts = True

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

    @cached_property
    def fingerprint(self) -> str:
        """Config, dtype and sampled weights (see `models.fingerprint`)."""
        return hf_fingerprint(self.model)

    @property
    def capacity(self) -> int:
        return self.batch_size

    @property
    def chat_template(self) -> str | None:
        template = self.tokenizer.chat_template
        return template if isinstance(template, str) else None

    @property
    def context_length(self) -> int | None:
        n = getattr(self.model.config, "max_position_embeddings", None)
        return n if isinstance(n, int) and n > 0 else None

    def local(self) -> HFBackend:
        return self

    def tools_view(self) -> HFBackend:
        return ToolsView(self)

    def continuous(self, max_rows: int) -> Backend:
        """`ContinuousHF` over this model where its cache layout allows (else batches:
        `Backend.continuous`)."""
        from neutrophil.models.continuous import ContinuousHF

        if not ContinuousHF.supports(self):
            return super().continuous(max_rows)
        return ContinuousHF(self, max_rows=min(max_rows, self.batch_size))

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

    def prompt_text(self, request: Request) -> str:
        """The prompt text of `request`: its raw prompt verbatim (`/v1/completions`) when it
        has one, else its messages through the chat template; then the prefill."""
        if request.raw_prompt is not None:
            return request.raw_prompt + request.prefill
        return self.render(request.messages, request.prefill)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False).input_ids)

    def max_token_chars(self) -> int | None:
        return max((len(piece) for piece in self.tokenizer.get_vocab()), default=None)

    def generate(self, requests: Sequence[Request], *, progress: bool = False) -> list[Generation]:
        texts = [self.prompt_text(r) for r in requests]
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
        edit = rows[0].edit
        edit_context = None
        if edit is not None:
            scales = torch.tensor([r.edit_scale for r in rows], dtype=self.model.dtype)
            edit_context = lambda alive: edit.applied(self.model, scales[alive])  # noqa: E731
        decoded = self._decode(rows, enc.input_ids, enc.attention_mask, edit_context=edit_context)
        return self._finish(decoded, enc.attention_mask.sum(-1).tolist())

    def _shared_groups(self, requests: Sequence[Request]) -> list[list[int]]:
        """Index groups of ≥2 unedited rows with the same messages (they differ in prefill)."""
        if not kv_share.supported(self.model):
            return []
        by_messages: dict[str, list[int]] = {}
        for i, r in enumerate(requests):
            if r.edit is None:
                key = self.prompt_text(replace(r, prefill=""))
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
        decoded = self._decode(rows, input_ids, mask, cache=cache)
        return self._finish(decoded, [len(token_rows[i]) for i in order])

    def _decode(self, rows: Sequence[Request], input_ids, attention_mask, **kw) -> list[Decoded]:
        return decode(
            self.model,
            rows,
            input_ids,
            attention_mask,
            eos_ids=self._eos_ids,
            # the text a stop rule reads is the text the answer will be: no broken tail
            detokenize=lambda ids: whole_chars(
                self.tokenizer.decode(ids, skip_special_tokens=True)
            ),
            **kw,
        )

    def _finish(self, decoded: Sequence[Decoded], prompt_tokens) -> list[Generation]:
        return [
            Generation(
                text=whole_chars(self.tokenizer.decode(d.tokens, skip_special_tokens=True)),
                prompt_tokens=int(n),
                generated_tokens=len(d.tokens) + d.hit_eos,  # the EOS was generated too
                stopped_early=d.stopped_early,
            )
            for d, n in zip(decoded, prompt_tokens, strict=True)
        ]


class ToolsView(HFBackend):
    """An `HFBackend` view that renders a `TOOLS_ROLE` message as `tools=` of the template.

    Requests without one render exactly as the original backend renders them.
    """

    def __init__(self, base: HFBackend) -> None:
        # Share every attribute (model, tokenizer, eos ids); no weights are copied.
        self.__dict__.update(base.__dict__)

    def render(self, messages: Sequence[Message], prefill: str = "") -> str:
        spec = [m for m in messages if m.get("role") == TOOLS_ROLE]
        if not spec:
            return super().render(messages, prefill)
        rest = [m for m in messages if m.get("role") != TOOLS_ROLE]
        text = self.tokenizer.apply_chat_template(
            rest, tools=json.loads(spec[0]["content"]), tokenize=False, add_generation_prompt=True
        )
        return text + prefill
