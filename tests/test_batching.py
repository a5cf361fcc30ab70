"""The one batcher for engines that decode a batch at a time (`models.batching`)."""

from __future__ import annotations

import threading

import pytest

from neutrophil.models.base import Backend, Request, user_message
from neutrophil.models.batching import Batched, RequestBatcher


def _req(text: str) -> Request:
    return Request(user_message(text), max_new_tokens=4)


class Held:
    """`run` for a batcher: records each batch; the first waits until the test opens it."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self.started = threading.Event()
        self.open = threading.Event()
        self.fail_on = fail_on

    def __call__(self, requests: list[Request]) -> list[str]:
        prompts = [r.messages[-1]["content"] for r in requests]
        self.batches.append(prompts)
        if len(self.batches) == 1:
            self.started.set()
            assert self.open.wait(60)
        if self.fail_on in prompts:
            raise RuntimeError(f"cannot do {self.fail_on}")
        return [p.upper() for p in prompts]


def test_requests_that_come_while_a_batch_runs_form_the_next_one():
    run = Held()
    batcher = RequestBatcher(run, max_rows=3, wait_s=60)  # batches close when full
    first = [batcher.submit(_req(p)) for p in ("a", "b", "c")]
    assert run.started.wait(60)
    later = [batcher.submit(_req(p)) for p in ("d", "e", "f", "g")]
    later[1].cancel()  # its caller gave up while it waited: never run
    assert batcher.waiting() == 4
    run.open.set()
    assert [f.result(60) for f in first] == ["A", "B", "C"]
    assert [later[i].result(60) for i in (0, 2)] == ["D", "F"]
    batcher.close()  # "g" waits for a batch that will not come
    with pytest.raises(RuntimeError, match="closed"):
        later[3].result(60)
    assert run.batches == [["a", "b", "c"], ["d", "f"]]
    assert list(batcher.batches) == [3, 2]


def test_a_failed_batch_fails_each_of_its_requests_and_the_next_batch_runs():
    run = Held(fail_on="b")
    batcher = RequestBatcher(run, max_rows=2, wait_s=60)
    failed = [batcher.submit(_req(p)) for p in ("a", "b")]
    assert run.started.wait(60)
    fine = [batcher.submit(_req(p)) for p in ("c", "d")]
    run.open.set()
    for f in failed:
        with pytest.raises(RuntimeError, match="cannot do b"):
            f.result(60)
    assert [f.result(60) for f in fine] == ["C", "D"]
    batcher.close()


def test_a_run_that_returns_too_few_results_fails_its_batch_not_the_batcher():
    answers = iter([["only one"], ["C", "D"]])
    batcher = RequestBatcher(lambda requests: next(answers), max_rows=2, wait_s=60)
    short = [batcher.submit(_req(p)) for p in ("a", "b")]
    for f in short:
        with pytest.raises(RuntimeError, match="1 results for a batch of 2"):
            f.result(60)
    assert [f.result(60) for f in [batcher.submit(_req(p)) for p in ("c", "d")]] == ["C", "D"]
    batcher.close()


class OwnBackend(Backend):
    """A backend of someone else's: `generate` only."""

    name = "own"

    def __init__(self, inner: Backend) -> None:
        self.inner = inner

    def generate(self, requests, *, progress=False):
        return self.inner.generate(requests)


def test_a_backend_that_generates_whole_batches_queues_through_batched():
    from neutrophil.models import load_backend

    hf = load_backend("tiny", batch_size=1)  # one row at a time: no padding differences
    own = OwnBackend(hf)
    engine = own.continuous(4)  # what a server or the studio drives
    assert isinstance(engine, Batched) and engine.queues and not own.queues
    assert (engine.name, engine.fingerprint) == ("own", own.fingerprint)
    reqs = [_req(p) for p in ("one", "two", "three")]
    futures = engine.submit_many(reqs)  # returns at once; a worker thread generates
    assert [f.result(120).text for f in futures] == [g.text for g in hf.generate(reqs)]
    engine.close()
