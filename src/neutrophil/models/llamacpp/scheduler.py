"""Continuous batching over llama.cpp sequences: rows join and leave at every step.

One worker thread owns the context. Each step is one `llama_decode` holding, for every live
row, either its next prompt chunk (chunked prefill, at most `n_batch` tokens in all) or its
last generated token. A row leaves the moment its verdict is fixed (EOS, its budget, its
`stop_when` rule): its sequence is cleared and a waiting row takes the slot in the next
step, so a long row never holds a batch.

Rows that share a prompt (one task, many candidate prefixes) arrive as one `Unit`: the
leader decodes the token-level common prefix once, it is copied into the followers'
sequences (`llama_memory_seq_cp`), and each follower decodes only its own tail.

The control vector (steering) is context-wide, so all live rows share one `control` key;
units with another key wait until the live rows have drained (first come, first served).
"""

from __future__ import annotations

import atexit
import threading
import time
import weakref
from collections import deque
from collections.abc import Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from neutrophil.models.base import Generation, Request
from neutrophil.models.llamacpp.native import NativeContext, NativeModel


@dataclass(eq=False)
class Row:
    request: Request
    tokens: list[int]  # the prompt: rendered template + prefill
    budget: int
    future: Future[Generation] = field(default_factory=Future)
    seq: int = -1
    fed: int = 0  # prompt tokens already in this row's KV
    out: list[int] = field(default_factory=list)
    raw: bytearray = field(default_factory=bytearray)
    hit_eos: bool = False
    stopped_early: bool = False
    waits_for: tuple[Row, int] | None = None  # (leader, shared length) until the copy
    cancelled: bool = False  # its caller gave up: dropped at the next step

    def text(self) -> str:
        return self.raw.decode("utf-8", errors="replace")


@dataclass(eq=False)
class Unit:
    """Rows admitted together: one row, or a group sharing a prompt prefix."""

    rows: list[Row]
    control: Hashable  # key of the control vector these rows need (None: none)
    layers: dict[int, np.ndarray] | None = None


@dataclass
class Stats:
    steps: int = 0
    row_steps: int = 0  # tokens decoded (prompt + generated) summed over steps
    generated: int = 0
    shared_tokens: int = 0  # prompt tokens not decoded thanks to a KV copy


def common_prefix(seqs: Sequence[Sequence[int]]) -> int:
    n = min(len(s) for s in seqs)
    first = seqs[0]
    for k in range(n):
        if any(s[k] != first[k] for s in seqs[1:]):
            return k
    return n


_open: weakref.WeakSet[Scheduler] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # A daemon thread still inside llama_decode while the interpreter tears down can crash
    # the process on exit; stop every worker first.
    for scheduler in list(_open):
        scheduler.close()


class Scheduler:
    """Owns a `NativeContext`; `put(unit)` queues rows, the worker thread decodes them."""

    def __init__(self, model: NativeModel, ctx: NativeContext) -> None:
        self.model = model
        self.ctx = ctx
        self.stats = Stats()
        self._pending: deque[Unit] = deque()
        self._live: list[Row] = []
        self._free = list(range(ctx.n_seq - 1, -1, -1))
        self._control: Hashable = None
        self._wake = threading.Condition()
        self._closed = False
        self._thread: threading.Thread | None = None
        self.last_step = time.monotonic()  # end of the last step (for health checks)
        _open.add(self)

    # -- queueing ---------------------------------------------------------------------
    def put(self, units: Sequence[Unit]) -> None:
        with self._wake:
            if self._closed:
                raise RuntimeError("the llama.cpp engine is closed")
            self._pending.extend(units)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="neutrophil-llamacpp", daemon=True
                )
                self._thread.start()
            self._wake.notify()

    def busy(self) -> bool:
        return bool(self._pending or self._live)

    def cancel(self, rows: Sequence[Row]) -> None:
        """Drop rows whose caller gave up: queued ones are cancelled and never start; live
        ones leave at the next step and free their sequences."""
        for r in rows:
            r.cancelled = True
            r.future.cancel()  # succeeds only while queued

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)

    # -- the worker ---------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._closed and not self._pending and not self._live:
                    self._wake.wait()
                if self._closed:
                    self._fail_all(RuntimeError("the llama.cpp engine was closed"))
                    return
                self._admit()
            try:
                self._step()
            except BaseException as e:  # noqa: BLE001 — every waiting row hears of it
                self._fail_live(e)
            self.last_step = time.monotonic()

    def _admit(self) -> None:
        while self._pending:
            unit = self._pending[0]
            if self._live and unit.control != self._control:
                return  # the control vector is context-wide: drain first
            if len(unit.rows) > len(self._free):
                return
            self._pending.popleft()
            rows = [r for r in unit.rows if r.future.set_running_or_notify_cancel()]
            if not rows:
                continue
            if not self._live and unit.control != self._control:
                try:
                    self.ctx.set_control(unit.layers)
                except BaseException as e:  # noqa: BLE001
                    for r in rows:
                        r.future.set_exception(e)
                    continue
                self._control = unit.control
            for r in rows:
                r.seq = self._free.pop()
                self.ctx.clear(r.seq)
            shared = common_prefix([r.tokens for r in rows]) if len(rows) > 1 else 0
            # Each row keeps at least its last prompt token: it needs fresh logits.
            shared = min(shared, min(len(r.tokens) for r in rows) - 1)
            if shared > 0:
                for r in rows[1:]:
                    r.waits_for = (rows[0], shared)
            self._live.extend(rows)

    def _step(self) -> None:
        for r in [r for r in self._live if r.cancelled]:
            self._release(r)
            if not r.future.done():
                r.future.set_exception(RuntimeError("cancelled"))
        entries: list[tuple[int, int, int, bool]] = []
        outputs: list[Row] = []
        room = self.ctx.n_batch
        # Generating rows first: one token each, so they never wait behind a long prompt.
        for r in self._live:
            if r.fed == len(r.tokens):
                entries.append((r.out[-1], len(r.tokens) + len(r.out) - 1, r.seq, True))
                outputs.append(r)
                room -= 1
        for r in self._live:
            if r.fed == len(r.tokens) or r.waits_for is not None or room <= 0:
                continue
            take = min(room, len(r.tokens) - r.fed)
            last = r.fed + take == len(r.tokens)
            for k in range(r.fed, r.fed + take):
                entries.append((r.tokens[k], k, r.seq, last and k == len(r.tokens) - 1))
            r.fed += take
            room -= take
            if last:
                outputs.append(r)
        if not entries:
            return
        logits = self.ctx.decode(entries)
        picked = logits.argmax(axis=1).tolist() if len(outputs) else []
        self.stats.steps += 1
        self.stats.row_steps += len(entries)
        # Copy finished shared prefixes before any leader can end and clear its sequence.
        for r in self._live:
            if r.waits_for is not None and r.waits_for[0].fed >= r.waits_for[1]:
                leader, n = r.waits_for
                self.ctx.copy(leader.seq, r.seq, n)
                r.fed, r.waits_for = n, None
                self.stats.shared_tokens += n
        # `outputs` follows the order of the flagged entries: generating rows, then rows
        # whose prompt just completed.
        finished: list[Row] = []
        for r, tok in zip(outputs, picked, strict=True):
            if self._advance(r, tok):
                finished.append(r)
        for r in finished:
            self._release(r)
            r.future.set_result(
                Generation(
                    text=r.text(),
                    prompt_tokens=len(r.tokens),
                    generated_tokens=len(r.out) + r.hit_eos,
                    stopped_early=r.stopped_early,
                )
            )

    def _advance(self, r: Row, tok: int) -> bool:
        """Take one generated token; True when the row is done."""
        if self.model.is_eog(tok):
            r.hit_eos = True
            return True
        r.out.append(tok)
        r.raw += self.model.piece(tok)
        self.stats.generated += 1
        if len(r.out) >= r.budget:
            return True
        stop = r.request.stop_when
        if stop is not None:
            try:
                if stop(r.request.prefill + r.text()):
                    r.stopped_early = True
                    return True
            except BaseException as e:  # noqa: BLE001 — the rule's own failure ends its row
                self._release(r)
                r.future.set_exception(e)
                return False
        return False

    def _release(self, r: Row) -> None:
        if r in self._live:
            self._live.remove(r)
            self.ctx.clear(r.seq)
            self._free.append(r.seq)

    def _fail_live(self, e: BaseException) -> None:
        for r in list(self._live):
            self._release(r)
            if not r.future.done():
                r.future.set_exception(e)

    def _fail_all(self, e: BaseException) -> None:
        self._fail_live(e)
        while self._pending:
            for r in self._pending.popleft().rows:
                if not r.future.done() and r.future.set_running_or_notify_cancel():
                    r.future.set_exception(e)
