"""The llama.cpp engine: any GGUF (the embedded model included), batched on the CPU.

`LlamaCppBackend` implements the `Backend` contract with llama.cpp's low-level API:
the GGUF's own chat template, native assistant prefill, per-row budgets and `stop_when`,
EOS, token counts; continuous batching over sequences (`scheduler.py`), prompt KV shared
by rows with the same messages, and steering through llama.cpp's control vector.

Hidden states are not exposed by llama.cpp, so whatever needs them (a gate's probe, fitting
a steering vector) uses `local()`: the same GGUF on transformers, loaded on first use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Sequence
from concurrent.futures import Future
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from neutrophil.errors import UserError
from neutrophil.models import GGUF_WEIGHTS
from neutrophil.models.base import Backend, Generation, Message, Request, collect
from neutrophil.models.embedded import ensure_weights_gguf, file_digest
from neutrophil.models.llamacpp.native import (
    NativeContext,
    NativeModel,
    check_gguf,
    default_threads,
)
from neutrophil.models.llamacpp.scheduler import Row, Scheduler, Unit
from neutrophil.models.template import FALLBACK_TEMPLATE, render_chat

ENGINE = "llama"
# Cells per sequence the KV cache starts with; it grows (doubling) when a row needs more.
START_SEQ_CTX = 256
# "auto" runs a Q4_1 file as q8_0: llama.cpp has batched int8 kernels on x86 and none for
# Q4_1 (docs/benchmarks.md). LLAMA_FTYPE_MOSTLY_Q4_1, as general.file_type holds it:
Q4_1_FILE_TYPE = "3"


class LlamaCppBackend(Backend):
    """Generate with llama.cpp from a GGUF file."""

    engine = ENGINE
    queues = True  # continuous batching: submitted rows join the running batch
    edits = "group"  # the control vector is context-wide: rows are grouped by edit
    takes_raw_prompts = True

    def __init__(
        self,
        path: str | Path,
        *,
        name: str | None = None,
        threads: int | None = None,
        batch_size: int = 32,
        seq_ctx: int = 2048,
        n_batch: int = 512,
        kv_share: bool = True,
        twin_dir: Path | None = None,
        weights: str = "auto",
        twin_device: str = "auto",
    ) -> None:
        if batch_size < 1:
            raise UserError(f"--batch-size must be at least 1, got {batch_size}")
        if threads is not None and threads < 1:
            raise UserError(f"--threads must be at least 1, got {threads}")
        if weights not in GGUF_WEIGHTS:
            raise UserError(f"--gguf-weights {weights}: expected one of {', '.join(GGUF_WEIGHTS)}")
        self.path = Path(path)
        check_gguf(self.path)
        self.native = NativeModel.load(self.path)
        if weights == "auto":
            q4_1 = self.native.meta("general.file_type") == Q4_1_FILE_TYPE
            weights = "q8_0" if q4_1 else "file"
        self.weights = weights  # the form that runs: file, q8_0 or f32
        if weights != "file":
            self.native.free()
            self.native = NativeModel.load(ensure_weights_gguf(self.path, weights))
        self.name = name or self.path.stem
        self.threads = threads or default_threads()
        self.batch_size = batch_size
        self.kv_share = kv_share
        self.ctx = NativeContext(
            self.native,
            n_seq=batch_size,
            seq_ctx=min(seq_ctx, START_SEQ_CTX),
            max_seq_ctx=seq_ctx,
            n_batch=max(n_batch, batch_size),  # every live row's token fits one step
            threads=self.threads,
        )
        self.scheduler = Scheduler(self.native, self.ctx, share=kv_share)
        self.chat_template = self.native.chat_template() or FALLBACK_TEMPLATE
        self._bos, self._eos = self.native.bos_eos_text()
        self._twin: Any = None
        self._twin_dir = twin_dir
        self._twin_device = twin_device

    # -- identity -------------------------------------------------------------------
    @cached_property
    def fingerprint(self) -> str:
        """What decides the tokens: the GGUF's bytes, the engine, the weights' form
        (llama.cpp's kernels for each form can pick different tokens)."""
        form = "" if self.weights == "file" else f":{self.weights}"
        return f"{ENGINE}:{file_digest(self.path)[:16]}{form}"

    @property
    def capacity(self) -> int:
        return self.batch_size

    @property
    def context_length(self) -> int:
        return self.ctx.max_seq_ctx

    @property
    def last_step(self) -> float:
        return self.scheduler.last_step

    def alive(self) -> bool:
        return self.scheduler.alive()

    # -- prompts --------------------------------------------------------------------
    def render(self, messages: Sequence[Message], prefill: str = "") -> str:
        """The exact prompt text: chat template with generation prompt, then the prefill."""
        text = render_chat(self.chat_template, messages, bos_token=self._bos, eos_token=self._eos)
        return text + prefill

    def prompt_text(self, request: Request) -> str:
        if request.raw_prompt is not None:
            return request.raw_prompt + request.prefill
        return self.render(request.messages, request.prefill)

    def count_tokens(self, text: str) -> int:
        return len(self.native.tokenize(text))

    # -- generation -----------------------------------------------------------------
    def _row(self, request: Request) -> Row:
        if request.max_new_tokens < 1:
            raise UserError(f"max_new_tokens must be at least 1, got {request.max_new_tokens}")
        tokens = self.native.tokenize(self.prompt_text(request))
        room = self.ctx.max_seq_ctx - len(tokens)
        if room < 1 or not tokens:
            raise UserError(
                f"a prompt of {len(tokens)} tokens does not fit the llama.cpp context of "
                f"{self.ctx.max_seq_ctx} tokens per sequence"
            )
        # The context bounds the answer as a model's maximum length would.
        return Row(request, tokens, budget=min(request.max_new_tokens, room))

    def _control(self, request: Request) -> tuple[Hashable, dict[int, np.ndarray] | None]:
        edit, scale = request.edit, float(request.edit_scale)
        if edit is None or scale == 0.0:
            return None, None
        deltas = getattr(edit, "layer_deltas", None)
        if deltas is None:
            raise UserError(
                f"{type(edit).__name__}: cannot be applied as a llama.cpp control vector"
            )
        try:
            content = deltas(scale)
        except ValueError as e:  # an edit a control vector cannot express (ablate, clamp)
            raise UserError(str(e)) from None
        layers = {n: v.detach().float().cpu().numpy() for n, v in content.items()}
        # Keyed by content too: an edit may change what a scale means (the studio's board
        # when a concept is learnt again), and a stale vector must not stay in place.
        digest = hashlib.sha1(b"".join(layers[n].tobytes() for n in sorted(layers))).hexdigest()
        return (id(edit), scale, digest), layers

    def applies(self, request: Request) -> bool:
        try:
            self._control(request)
        except UserError:  # ablate and clamp: a control vector only adds
            return False
        return True

    def submit_many(
        self, requests: Sequence[Request], *, progress: bool = False
    ) -> list[Future[Generation]]:
        """Queue requests; they join the running batch at the next step. Cancelling a
        future stops its row, queued or decoding."""
        rows = [self._row(r) for r in requests]  # every prompt checked before any work
        controls = [self._control(r) for r in requests]
        order = sorted(range(len(rows)), key=lambda i: str(controls[i][0]))  # few switches
        self.scheduler.put([Unit([rows[i]], *controls[i]) for i in order])
        return [r.future for r in rows]

    def generate(self, requests: Sequence[Request], *, progress: bool = False) -> list[Generation]:
        return collect(self.submit_many(requests), progress=progress)

    # -- hidden states ----------------------------------------------------------------
    def local(self) -> Any:
        """The same GGUF on transformers (for probes and gates); loaded once."""
        if self._twin is None:
            from neutrophil.models import load_hf
            from neutrophil.models.embedded import ensure_converted

            source = self._twin_dir or ensure_converted(self.path)
            self._twin = load_hf(
                source,
                name=self.name,
                batch_size=self.batch_size,
                threads=self.threads,
                device=self._twin_device,
            )
        return self._twin

    def close(self) -> None:
        if not self.scheduler.close():
            return  # still inside llama_decode: freeing the context under it would crash
        self.ctx.free()
        self.native.free()
