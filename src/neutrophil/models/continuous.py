"""Continuous batching for the transformers (HF) engine: one decode thread, rows join and
leave the batch at every step.

`HFBackend.generate` decodes a whole batch at a time, so a server built on it makes a short
request wait for the longest row of the batch before it: one `max_tokens: 2000` request
stalls everyone behind it. `ContinuousHF` keeps the rows in flight in lanes (`lanes.py`:
one KV cache per length class) and, at every iteration of its thread, does at most

- one prefill of waiting short prompts (≤ `prefill_chunk` tokens in all, one forward per
  lane they go to), which join their lanes at once;
- one chunk (≤ `prefill_chunk` tokens) of one long prompt, in that row's own cache, which
  joins its lane once its whole prompt is in; and
- one decode step (one token) for every row, one forward per lane,

then drops the rows that ended (EOS, their budget, their `stop_when`, or a cancelled
future). So a short request waits for at most one iteration of a long one, never for the
long row to finish, and a long prompt is digested in slices between the decode steps of the
others (short prompts overtake it; long ones take turns).

Positions are kept per row, so a row sees the positions and keys it would see alone (as in
`greedy.py`); a row alone computes exactly what `HFBackend.generate` computes for it.

Activation edits (steering) are per row, as in `HFBackend`: every forward runs under the
edit of the rows in flight, each row at its own `edit_scale` (an unedited row at 0, which
an `ActivationEdit` leaves alone). One edit object is in flight at a time: a row with
another edit waits until the rows of the current one have left (the studio and a steering
defense each hand every row the same edit, so their rows never wait for this). With `lock`,
each iteration (and the tokenizer) runs under it, so a caller that reads the same model
between steps (the studio's gate and concept meter) takes that lock and waits one step.
Supported where `kv_share` is: decoders with one full-attention KV layer per block (llama,
qwen2 — SmolLM2 included); `ContinuousHF.supports(backend)` says.
"""

from __future__ import annotations

import collections
import contextlib
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, InvalidStateError
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import torch
from transformers import DynamicCache

from neutrophil.models import kv_share
from neutrophil.models.base import (
    ActivationEdit,
    Backend,
    Generation,
    Request,
    collect,
    whole_chars,
)
from neutrophil.models.cache_arg import cache_kw
from neutrophil.models.hf import HFBackend
from neutrophil.models.lanes import Lane, lane_bound

PREFILL_CHUNK = 256  # prompt tokens per iteration: bounds what a long prompt costs others


@dataclass
class _Row:
    request: Request
    future: Future[Generation]
    ids: list[int] = field(default_factory=list)  # prompt tokens
    done: int = 0  # prompt tokens already in `cache` (while prefilling)
    cache: DynamicCache | None = None  # the row's own cache until it joins the batch
    tokens: list[int] = field(default_factory=list)
    admitted: int = 0  # engine step at which its prefill began


@dataclass(frozen=True)
class Finished:
    """One row's record (tests and /health read these): steps are engine iterations."""

    request: Request
    generation: Generation | None  # None when it failed or its future was cancelled
    admitted_step: int
    ended_step: int


class ContinuousHF(Backend):
    """`submit_many(requests) -> [Future[Generation]]` over an `HFBackend`'s model and
    tokenizer: rows join and leave the running batch at every step."""

    engine = "hf"
    queues = True
    edits = "row"
    takes_raw_prompts = True

    @staticmethod
    def supports(backend: object) -> bool:
        return isinstance(backend, HFBackend) and kv_share.supported(backend.model)

    def __init__(
        self,
        backend: HFBackend,
        *,
        max_rows: int = 32,
        prefill_chunk: int = PREFILL_CHUNK,
        lock: threading.RLock | None = None,
    ) -> None:
        self.backend = backend
        self.name = backend.name
        self.model = backend.model
        self.tokenizer = backend.tokenizer
        self.max_rows = max(1, max_rows)
        self.prefill_chunk = prefill_chunk
        self.context_length = backend.context_length
        self.chat_template = backend.chat_template
        self.steps = 0
        self.last_step = time.monotonic()
        self.log: collections.deque[Finished] = collections.deque(maxlen=256)
        # The tokenizer is shared with request threads that count prompt tokens; a caller's
        # lock (reentrant: a step decodes text under it) guards the model and the tokenizer.
        self._tok_lock: AbstractContextManager[object] = lock or threading.Lock()
        self._model_lock: AbstractContextManager[object] = lock or contextlib.nullcontext()
        self._edit: ActivationEdit | None = None  # the edit of the rows in flight
        self._inbox: collections.deque[_Row] = collections.deque()
        self._wake = threading.Condition()
        self._closed = False
        self._lanes: dict[int, Lane] = {}  # by bound
        self._waiting: collections.deque[_Row] = collections.deque()  # tokenised, not prefilled
        self._long: _Row | None = None  # the long prompt being prefilled in chunks
        self._thread = threading.Thread(target=self._loop, name="neutrophil-decode", daemon=True)
        self._thread.start()

    # -- the caller's side ---------------------------------------------------------------

    @property
    def capacity(self) -> int:
        return self.max_rows

    @property
    def fingerprint(self) -> str:
        return self.backend.fingerprint  # a row alone gets the backend's own tokens

    def submit_many(
        self, requests: Sequence[Request], *, progress: bool = False
    ) -> list[Future[Generation]]:
        rows = [_Row(r, Future()) for r in requests]
        with self._wake:
            if self._closed:
                raise RuntimeError("the decode thread is closed")
            self._inbox.extend(rows)
            self._wake.notify()
        return [row.future for row in rows]

    def generate(self, requests: Sequence[Request], *, progress: bool = False) -> list[Generation]:
        return collect(self.submit_many(requests), progress=progress)

    def prompt_text(self, request: Request) -> str:
        return self.backend.prompt_text(request)

    def local(self) -> HFBackend:
        return self.backend

    def count_tokens(self, text: str) -> int:
        return len(self._encode(text))

    def alive(self) -> bool:
        return self._thread.is_alive()

    def busy(self) -> int:
        """Rows waiting or in flight."""
        return len(self._inbox) + len(self._waiting) + self._decoding() + (self._long is not None)

    def _decoding(self) -> int:
        return sum(len(lane.rows) for lane in self._lanes.values())

    def close(self, timeout: float = 10.0) -> None:
        """Stop the thread after its current step; unfinished rows are cancelled."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    # -- the decode thread ---------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            with self._wake:
                while not self._closed and not self._inbox and not self._has_work():
                    self._wake.wait()
                if self._closed:
                    break
            with self._model_lock:
                worked = self._prefill_step()
                worked = self._decode_step() or worked
            if worked:
                self.steps += 1
                self.last_step = time.monotonic()
        with self._wake:
            left = [*self._inbox, *self._waiting]
            left += [row for lane in self._lanes.values() for row in lane.rows]
        if self._long is not None:
            left.append(self._long)
        for row in left:
            row.future.cancel()

    def _has_work(self) -> bool:
        return bool(self._waiting) or self._decoding() > 0 or self._long is not None

    def _encode(self, text: str) -> list[int]:
        with self._tok_lock:
            return self.tokenizer(text, add_special_tokens=False).input_ids

    def _decode_text(self, ids: list[int]) -> str:
        """The row's text as its answer will read (stop rules see the same): no broken tail."""
        with self._tok_lock:
            return whole_chars(self.tokenizer.decode(ids, skip_special_tokens=True))

    def _prefill_step(self) -> bool:
        """Prefill what fits this iteration: a group of short prompts, a chunk of a long one."""
        self._tokenise_arrivals()
        groups = self._pick_groups()
        for group in groups.values():
            self._prefill_group(group)
        if self._long is not None:
            self._prefill_long_chunk()
        return bool(groups) or self._long is not None

    def _tokenise_arrivals(self) -> None:
        while True:
            with self._wake:
                if not self._inbox:
                    return
                row = self._inbox.popleft()
            try:
                row.ids = self._encode(self.backend.prompt_text(row.request))
                if not row.ids:
                    raise ValueError("the prompt is empty")
                if row.request.max_new_tokens < 1:
                    raise ValueError("max_new_tokens must be at least 1")
            except Exception as e:  # noqa: BLE001 — handed to this row's caller
                self._fail(row, e)
                continue
            self._waiting.append(row)

    def _bound(self, row: _Row) -> int:
        return lane_bound(len(row.ids) + row.request.max_new_tokens)

    def _in_flight(self) -> list[_Row]:
        rows = [row for lane in self._lanes.values() for row in lane.rows]
        return rows + ([self._long] if self._long is not None else [])

    def _pick_groups(self) -> dict[int, list[_Row]]:
        """Waiting short prompts by lane, oldest first, within the token budget and the free
        rows; the oldest long prompt becomes the chunked one when none is. A row whose edit
        is not the one in flight waits, and so do the edited rows behind it (first come,
        first served between edits); unedited rows go on."""
        free = self.max_rows - self._decoding() - (self._long is not None)
        budget = self.prefill_chunk
        group: list[_Row] = []
        rest: collections.deque[_Row] = collections.deque()
        if not any(row.request.edit is not None for row in self._in_flight()):
            self._edit = None
        edits_wait = False
        while self._waiting:
            row = self._waiting.popleft()
            n = len(row.ids)
            short = n <= self.prefill_chunk
            edit = row.request.edit
            other = self._edit is not None and edit is not self._edit  # by identity
            if row.future.cancelled():
                self._finish(row, None)
            elif edit is not None and (edits_wait or other):
                edits_wait = True
                rest.append(row)
            elif free <= 0 or (short and n > budget) or (not short and self._long is not None):
                rest.append(row)
            elif short:
                group.append(row)
                budget -= n
                free -= 1
                self._edit = edit if edit is not None else self._edit
            else:
                row.cache = DynamicCache(config=self.model.config)
                row.admitted = self.steps
                self._long = row
                free -= 1
                self._edit = edit if edit is not None else self._edit
        self._waiting = rest
        groups: dict[int, list[_Row]] = {}
        for row in group:
            row.admitted = self.steps
            groups.setdefault(self._bound(row), []).append(row)
        return groups

    @torch.inference_mode()
    def _prefill_group(self, rows: list[_Row]) -> None:
        """Short prompts in one left-padded forward; they join the batch together."""
        device = self.model.device
        width = max(len(r.ids) for r in rows)
        pad = self.tokenizer.pad_token_id or 0
        ids = torch.full((len(rows), width), pad, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, width - len(r.ids) :] = torch.tensor(r.ids)
            mask[i, width - len(r.ids) :] = 1
        ids, mask = ids.to(device), mask.to(device)
        cache = DynamicCache(config=self.model.config)
        try:
            with self._edited(rows):
                logits = self.model(
                    input_ids=ids,
                    attention_mask=mask,
                    position_ids=(mask.cumsum(-1) - 1).clamp(min=0),
                    **cache_kw(self.model, cache),
                    use_cache=True,
                    logits_to_keep=1,
                ).logits[:, -1, :]
        except Exception as e:  # noqa: BLE001 — these rows fail, the others go on
            for row in rows:
                self._fail(row, e)
            return
        picked = logits.argmax(-1)
        tokens = picked.tolist()
        keep = [i for i, r in enumerate(rows) if self._advance(r, tokens[i])]
        if not keep:
            return
        sel = torch.tensor(keep, device=device)
        if len(keep) < len(rows):
            cache.batch_select_indices(sel)
        lengths = torch.tensor([len(rows[i].ids) for i in keep], device=device)
        lane = self._lane(self._bound(rows[0]))
        lane.join([rows[i] for i in keep], cache, mask[sel], picked[sel], lengths)

    @torch.inference_mode()
    def _prefill_long_chunk(self) -> None:
        row = self._long
        assert row is not None
        if row.future.cancelled():
            self._long = None
            self._finish(row, None)
            return
        device = self.model.device
        try:
            end = min(len(row.ids), row.done + self.prefill_chunk)
            with self._edited([row]):
                logits = self.model(
                    input_ids=torch.tensor([row.ids[row.done : end]], device=device),
                    attention_mask=torch.ones((1, end), dtype=torch.long, device=device),
                    position_ids=torch.arange(row.done, end, device=device)[None],
                    **cache_kw(self.model, row.cache),
                    use_cache=True,
                    logits_to_keep=1,
                ).logits[:, -1, :]
        except Exception as e:  # noqa: BLE001 — this row fails, the others go on
            self._long = None
            self._fail(row, e)
            return
        row.done = end
        if end < len(row.ids):
            return
        self._long = None
        token = int(logits.argmax(-1))
        if self._advance(row, token):
            cache, row.cache = row.cache, None
            n = len(row.ids)
            mask = torch.ones((1, n), dtype=torch.long, device=device)
            nxt = torch.tensor([token], device=device)
            lane = self._lane(self._bound(row))
            lane.join([row], cache, mask, nxt, torch.tensor([n], device=device))

    def _lane(self, bound: int) -> Lane:
        if bound not in self._lanes:
            self._lanes[bound] = Lane(bound)
        return self._lanes[bound]

    def _decode_step(self) -> bool:
        """One token for every row: one forward per lane, shortest lanes first."""
        worked = False
        for bound in sorted(self._lanes):
            lane = self._lanes[bound]
            if not lane.rows:
                continue
            worked = True
            try:
                with self._edited(lane.rows):
                    picked = lane.step(self.model)
            except Exception as e:  # noqa: BLE001 — the lane is lost; its callers hear why
                for row in lane.rows:
                    self._fail(row, e)
                lane.clear()
                continue
            rows = lane.rows
            lane.keep([b for b, row in enumerate(rows) if self._advance(row, picked[b])])
        return worked

    def _edited(self, rows: Sequence[_Row]) -> AbstractContextManager[object]:
        """The edit in flight over one forward of `rows` (in batch order), each row at its
        own scale; nothing when no row in flight is edited."""
        if self._edit is None:
            return contextlib.nullcontext()
        scales = [r.request.edit_scale if r.request.edit is self._edit else 0.0 for r in rows]
        return self._edit.applied(self.model, torch.tensor(scales, dtype=self.model.dtype))

    def _advance(self, row: _Row, token: int) -> bool:
        """Record `token` for `row`; False (and the row is finished) when it ends here."""
        r = row.request
        end = ""
        if row.future.cancelled():
            end = "cancelled"
        elif token in self.backend._eos_ids:
            end = "eos"
        else:
            row.tokens.append(token)
            if len(row.tokens) >= r.max_new_tokens:
                end = "budget"
            elif r.stop_when is not None:
                try:
                    if r.stop_when(r.prefill + self._decode_text(row.tokens)):
                        end = "stop"
                except Exception as e:  # noqa: BLE001 — a broken rule ends its own row only
                    self._fail(row, e)
                    return False
        if not end:
            return True
        if end == "cancelled":
            self._finish(row, None)
            return False
        self._finish(
            row,
            Generation(
                text=self._decode_text(row.tokens),
                prompt_tokens=len(row.ids),
                generated_tokens=len(row.tokens) + (end == "eos"),  # the EOS was generated too
                stopped_early=end == "stop",
            ),
        )
        return False

    # -- results ---------------------------------------------------------------------------

    def _finish(self, row: _Row, gen: Generation | None) -> None:
        self.log.append(Finished(row.request, gen, row.admitted, self.steps))
        if gen is not None:
            with contextlib.suppress(InvalidStateError):  # cancelled meanwhile by its caller
                row.future.set_result(gen)

    def _fail(self, row: _Row, error: BaseException) -> None:
        self.log.append(Finished(row.request, None, row.admitted, self.steps))
        with contextlib.suppress(InvalidStateError):
            row.future.set_exception(error)
