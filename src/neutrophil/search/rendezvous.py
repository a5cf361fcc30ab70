"""Merge the generate calls of several agents into one backend call.

Scoring M candidate prefixes means M agents running the same tasks. Run separately, each
agent's batch holds one prefix; merged, one batch holds every candidate's row for a task,
which is what lets the HF backend compute each task prompt once (models/kv_share.py). A
continuous-batching backend (llama.cpp) needs no rendezvous: the agents queue into it
directly.

Each agent runs in its own thread against a `view`; a call blocks until every agent still
running has submitted, then one thread runs the real backend on the concatenation (in a
fixed party order, so the batch does not depend on thread timing) and hands out the parts.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from neutrophil.models.base import Backend, Generation, Request

T = TypeVar("T")


class Rendezvous:
    def __init__(self, backend: Backend, parties: int) -> None:
        self.backend = backend
        self._cv = threading.Condition()
        self._active = set(range(parties))
        self._pending: dict[int, list[Request]] = {}
        self._results: dict[int, list[Generation] | BaseException] = {}
        self.calls = 0

    def view(self, party: int) -> _View:
        return _View(self, party)

    def _submit(self, party: int, requests: Sequence[Request]) -> list[Generation]:
        with self._cv:
            self._pending[party] = list(requests)
            self._maybe_flush()
            while party not in self._results:
                self._cv.wait()
            out = self._results.pop(party)
        if isinstance(out, BaseException):
            raise out
        return out

    def leave(self, party: int) -> None:
        with self._cv:
            self._active.discard(party)
            self._maybe_flush()

    def _maybe_flush(self) -> None:
        # Called with the lock held. Generation runs under the lock: every other party is
        # either waiting for its result or finished, so nothing is blocked that could run.
        if not self._pending or set(self._pending) != self._active:
            return
        parties = sorted(self._pending)
        sizes = [len(self._pending[p]) for p in parties]
        merged = [r for p in parties for r in self._pending[p]]
        self._pending = {}
        self.calls += 1
        try:
            gens = self.backend.generate(merged)
            start = 0
            for p, n in zip(parties, sizes, strict=True):
                self._results[p] = gens[start : start + n]
                start += n
        except BaseException as e:  # hand the failure to every waiting party
            for p in parties:
                self._results[p] = e
        self._cv.notify_all()


class _View(Backend):
    """What one agent sees: a backend with the real one's name, prefill mode and size."""

    def __init__(self, hub: Rendezvous, party: int) -> None:
        self._hub = hub
        self._party = party
        self.name = hub.backend.name
        self.engine = hub.backend.engine
        self.prefill_mode = hub.backend.prefill_mode
        self.capacity = hub.backend.capacity

    def generate(self, requests: Sequence[Request], *, progress: bool = False) -> list[Generation]:
        return self._hub._submit(self._party, requests)


def run_together(backend: Backend, jobs: Sequence[Callable[[Any], T]]) -> list[T]:
    """Run `jobs[i](view_i)` in threads whose generate calls are merged; results in order.
    A backend that `queues` merges what its callers queue by itself (one running batch, shared
    prompt KV): there every job gets the backend and nothing waits for the others."""
    if backend.queues:
        with ThreadPoolExecutor(len(jobs)) as pool:
            return list(pool.map(lambda job: job(backend), jobs))
    hub = Rendezvous(backend, len(jobs))
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            results[i] = jobs[i](hub.view(i))
        except BaseException as e:
            errors.append(e)
        finally:
            hub.leave(i)

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return results
