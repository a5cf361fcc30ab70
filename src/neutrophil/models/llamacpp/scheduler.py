"""Continuous batching over llama.cpp sequences: rows join and leave at every step.

One worker thread owns the context. Each step is one `llama_decode` holding, for every live
row, either its next prompt chunk (chunked prefill, at most `n_batch` tokens in all) or its
last generated token. A row leaves the moment its verdict is fixed (EOS, its budget, its
`stop_when` rule): its sequence is cleared and a waiting row takes the slot in the next
step, so a long row never holds a batch.

Prompt prefixes are decoded once (automatic prefix caching). A new row looks for the
longest token prefix it shares with a live row's prompt or with a finished row's prompt
still held in a free sequence slot (the chat template's system header, a web page that
many episodes see, one task under many candidate prefixes): the prefix's KV is copied
into its sequence (`llama_memory_seq_cp`), after the live row has decoded it if need be,
and the row decodes only its own tail. Finished sequences are kept until their slot is
needed, least recently used first.

Live rows hold sequences 0..L-1, with no gap, and each step lists its tokens in sequence
order. With one KV stream per sequence, llama.cpp decodes in one pass over the weights only
rows on consecutive sequences that appear in increasing order (its sequential
`split_equal`); rows scattered over the sequences split a step into a pass per run, and a
pass costs about as much for one row as for eight (docs/benchmarks.md). So a row that
leaves hands its sequence to the row on the highest one (`NativeContext.move`, a copy of
that row's KV), and a new row takes the lowest sequence no live row holds.

The control vector (steering) is context-wide, so all live rows share one `control` key;
units with another key wait until the live rows have drained (first come, first served).
A unit that needs more KV cells per sequence than the context holds waits the same way,
then the context grows (`NativeContext.grow`): at most a few times per process, since it
doubles and never shrinks.
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

from neutrophil.models.base import Generation, Request, whole_chars
from neutrophil.models.llamacpp.native import NativeContext, NativeModel


class RowFuture(Future):
    """A row's result; cancelling it also stops the row if it is already decoding."""

    def __init__(self, row: Row) -> None:
        super().__init__()
        self.row = row

    def cancel(self) -> bool:
        self.row.cancelled = True  # a live row leaves at the next step
        return super().cancel()  # succeeds only while queued


@dataclass(eq=False)
class Row:
    request: Request
    tokens: list[int]  # the prompt: rendered template + prefill
    budget: int
    future: RowFuture = field(init=False)
    seq: int = -1
    fed: int = 0  # prompt tokens already in this row's KV
    out: list[int] = field(default_factory=list)
    raw: bytearray = field(default_factory=bytearray)
    hit_eos: bool = False
    stopped_early: bool = False
    waits_for: tuple[Row, int] | None = None  # (leader, shared length) until the copy
    cancelled: bool = False  # its caller gave up: dropped at the next step
    _array: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.future = RowFuture(self)

    def text(self) -> str:
        return whole_chars(self.raw.decode("utf-8", errors="replace"))

    @property
    def token_array(self) -> np.ndarray:
        if self._array is None:
            self._array = np.asarray(self.tokens, dtype=np.int64)
        return self._array


@dataclass(eq=False)
class Kept:
    """A finished row's sequence, kept so that later rows can copy its prompt's KV."""

    seq: int
    tokens: np.ndarray  # the prompt, all of it in the sequence's KV


@dataclass(eq=False)
class Unit:
    """Rows admitted together (all or none: a group must fit the free slots)."""

    rows: list[Row]
    control: Hashable  # key of the control vector these rows need (None: none)
    layers: dict[int, np.ndarray] | None = None


@dataclass
class Stats:
    steps: int = 0
    row_steps: int = 0  # tokens decoded (prompt + generated) summed over steps
    generated: int = 0
    shared_tokens: int = 0  # prompt tokens not decoded thanks to a KV copy


# Shorter shared prefixes are decoded again: a copy moves a whole sequence's KV.
MIN_SHARED = 16


def common_prefix(a: np.ndarray, b: np.ndarray) -> int:
    n = min(len(a), len(b))
    differ = np.flatnonzero(a[:n] != b[:n])
    return int(differ[0]) if len(differ) else n


_open: weakref.WeakSet[Scheduler] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    # A daemon thread still inside llama_decode while the interpreter tears down can crash
    # the process on exit; stop every worker first.
    for scheduler in list(_open):
        scheduler.close()


class Scheduler:
    """Owns a `NativeContext`; `put(unit)` queues rows, the worker thread decodes them."""

    def __init__(self, model: NativeModel, ctx: NativeContext, *, share: bool = True) -> None:
        self.model = model
        self.ctx = ctx
        self.share = share
        self.stats = Stats()
        self._pending: deque[Unit] = deque()
        self._live: list[Row] = []
        self._free = list(range(ctx.n_seq - 1, -1, -1))
        self._kept: list[Kept] = []  # least recently used first
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

    def alive(self) -> bool:
        """False only when the worker died on its own: not before it is first needed, and
        not after `close()` stopped it."""
        return self._thread is None or self._thread.is_alive() or self._closed

    def cancel(self, rows: Sequence[Row]) -> None:
        """Drop rows whose caller gave up: queued ones are cancelled and never start; live
        ones leave at the next step and free their sequences."""
        for r in rows:
            r.future.cancel()

    def close(self) -> bool:
        """Stop the worker; True once it has exited (its context may then be freed)."""
        with self._wake:
            self._closed = True
            self._wake.notify()
            thread = self._thread
        if thread is None:
            return True
        if thread is not threading.current_thread():
            thread.join(timeout=30)
        return not thread.is_alive()

    # -- the worker ---------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._wake:
                if self._closed:
                    self._fail_all(RuntimeError("the llama.cpp engine was closed"))
                    return
                if not self._pending and not self._live:
                    # Idle: the worker ends; `put` starts another. With an OpenMP build of
                    # llama.cpp (pip's default), libgomp keeps a thread pool for each thread
                    # calling llama_decode; idle pools count against the cores, and with more
                    # threads than cores libgomp stops spinning at barriers: another
                    # engine's steps then took 1.5-2.4x as long (docs/benchmarks.md).
                    self._thread = None
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
            if len(unit.rows) > len(self._free) + len(self._kept):
                return
            need = max(len(r.tokens) + r.budget for r in unit.rows)
            if need > self.ctx.seq_ctx:
                if self._live:
                    return  # a context with more room is built once the live rows drain
                try:
                    self._grow(need)
                except BaseException as e:  # noqa: BLE001 — the unit's rows hear of it
                    self._pending.popleft()
                    for r in unit.rows:
                        if r.future.set_running_or_notify_cancel():
                            r.future.set_exception(e)
                    continue
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
                self._forget_kept()  # their KV was computed under another control vector
            for r in rows:
                r.seq = self._slot()
                if self.share:
                    self._share_prefix(r)
                self._live.append(r)

    def _grow(self, need: int) -> None:
        # Whether or not the bigger context could be built, the one now held is new: no
        # KV and no control vector.
        self._kept.clear()
        self._free = list(range(self.ctx.n_seq - 1, -1, -1))
        self._control = None
        self.ctx.grow(need)

    def _slot(self) -> int:
        """The lowest sequence no live row holds (the next one up: live rows hold
        0..L-1). A kept prompt there moves to a free sequence, or to the least recently
        used kept one's."""
        seq = len(self._live)
        held = next((k for k in self._kept if k.seq == seq), None)
        if held is None:
            self._free.remove(seq)
        else:
            spare = self._free.pop() if self._free else None
            if spare is None and self._kept[0] is not held:
                spare = self._kept.pop(0).seq
            if spare is None:
                self._kept.remove(held)
            else:
                self.ctx.move(seq, spare)
                held.seq = spare
        self.ctx.clear(seq)
        return seq

    def _share_prefix(self, row: Row) -> None:
        """Start `row` from the longest prompt prefix already decoded (or being decoded)."""
        best_n, best_src = 0, None
        for src in [*self._kept, *self._live]:
            arr = src.tokens if isinstance(src, Kept) else src.token_array
            n = common_prefix(row.token_array, arr)
            if n > best_n or (n == best_n and isinstance(src, Kept)):
                best_n, best_src = n, src
        # The row keeps at least its last prompt token: it needs fresh logits.
        n = min(best_n, len(row.tokens) - 1)
        if n < MIN_SHARED or best_src is None:
            return
        if isinstance(best_src, Kept):
            self.ctx.copy(best_src.seq, row.seq, n)
            row.fed = n
            self.stats.shared_tokens += n
            self._kept.remove(best_src)
            self._kept.append(best_src)  # most recently used
        else:
            row.waits_for = (best_src, n)  # copied once the live row has decoded it

    def _forget_kept(self) -> None:
        for k in self._kept:
            self.ctx.clear(k.seq)
            self._free.append(k.seq)
        self._kept.clear()

    def _step(self) -> None:
        for r in [r for r in self._live if r.cancelled]:
            self._release(r)
            if not r.future.done():
                r.future.set_exception(RuntimeError("cancelled"))
        entries: list[tuple[int, int, int, bool]] = []
        outputs: list[Row] = []
        # Generating rows first: one token each, so they never wait behind a long prompt;
        # prompt rows then take what room is left, in the order they came.
        room = self.ctx.n_batch - sum(1 for r in self._live if r.fed == len(r.tokens))
        takes: dict[Row, int] = {}
        for r in self._live:
            if r.fed == len(r.tokens) or r.waits_for is not None or room <= 0:
                continue
            takes[r] = min(room, len(r.tokens) - r.fed)
            room -= takes[r]
        for r in sorted(self._live, key=lambda r: r.seq):  # one pass: see the docstring
            if r.fed == len(r.tokens):
                entries.append((r.out[-1], len(r.tokens) + len(r.out) - 1, r.seq, True))
                outputs.append(r)
            elif r in takes:
                last = r.fed + takes[r] == len(r.tokens)
                for k in range(r.fed, r.fed + takes[r]):
                    entries.append((r.tokens[k], k, r.seq, last and k == len(r.tokens) - 1))
                r.fed += takes[r]
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
                r.fed, r.waits_for = max(r.fed, n), None
                self.stats.shared_tokens += n
        # `outputs` follows the order of the flagged entries.
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
        """Take `r` out of the live rows; the row on the highest sequence moves into its
        place, and its prompt's KV is kept (when whole) on a spare sequence."""
        if r not in self._live:
            return
        self._live.remove(r)
        for follower in self._live:
            if follower.waits_for is not None and follower.waits_for[0] is r:
                follower.waits_for = None  # its leader left early: decode it alone
        hole, top = r.seq, len(self._live)
        keep = self.share and not r.cancelled and r.fed == len(r.tokens)
        if hole == top:  # it held the highest sequence: nothing moves
            if keep:
                self._kept.append(Kept(hole, r.token_array))
            else:
                self.ctx.clear(hole)
                self._free.append(hole)
            return
        if keep and (self._free or self._kept):
            spare = self._free.pop() if self._free else self._kept.pop(0).seq
            self.ctx.move(hole, spare)
            self._kept.append(Kept(spare, r.token_array))
        self.ctx.clear(hole)
        last = next(x for x in self._live if x.seq == top)
        self.ctx.move(top, hole)
        last.seq = hole
        self._free.append(top)

    def _fail_live(self, e: BaseException) -> None:
        live, self._live = self._live, []
        for r in live:  # a failed decode leaves no KV worth keeping
            self.ctx.clear(r.seq)
            self._free.append(r.seq)
            if not r.future.done():
                r.future.set_exception(e)

    def _fail_all(self, e: BaseException) -> None:
        self._fail_live(e)
        while self._pending:
            for r in self._pending.popleft().rows:
                if not r.future.done() and r.future.set_running_or_notify_cancel():
                    r.future.set_exception(e)
