"""Activation edits on the continuous transformers engine (`ContinuousHF`): each row decodes
under its own edit scale, as it would alone on `HFBackend`, while rows join and leave."""

from __future__ import annotations

import threading

import torch

from neutrophil.internals.vector import SteeringVector
from neutrophil.models.base import Request, user_message
from neutrophil.models.continuous import ContinuousHF
from neutrophil.models.hf import HFBackend
from neutrophil.models.tiny import tiny_model

PROMPTS = ["hello", "write a poem about rain", "x", "what is 2+2?"]


def _backend() -> HFBackend:
    model, tok = tiny_model("llama")
    return HFBackend(model, tok, kv_share=False)


def _vector(backend: HFBackend, seed: int) -> SteeringVector:
    hidden = backend.model.config.hidden_size
    g = torch.Generator().manual_seed(seed)
    return SteeringVector({1: torch.randn(hidden, generator=g)})


def _run(engine: ContinuousHF, requests: list[Request]) -> list[str]:
    try:
        futures = engine.submit_many(requests)
        return [f.result(120).text for f in futures]
    finally:
        engine.close()


def test_each_row_decodes_under_its_own_scale_as_it_would_alone():
    backend = _backend()
    vector = _vector(backend, 0)
    scales = [0.0, 4.0, None, -4.0]  # None: a row with no edit at all
    rows = [
        Request(user_message(p), max_new_tokens=3 + 4 * k)
        if s is None
        else Request(user_message(p), max_new_tokens=3 + 4 * k, edit=vector, edit_scale=s)
        for k, (p, s) in enumerate(zip(PROMPTS, scales, strict=False))
    ]
    alone = [backend.generate([r])[0].text for r in rows]
    for chunk in (4, 256):  # long prompts prefilled in slices, or all in one group
        assert _run(ContinuousHF(backend, max_rows=8, prefill_chunk=chunk), rows) == alone
    unsteered = backend.generate([Request(user_message(PROMPTS[3]), max_new_tokens=15)])[0]
    assert alone[3] != unsteered.text  # the edit acted on the longest row


def test_a_second_edit_waits_for_the_first_and_unedited_rows_go_on():
    backend = _backend()
    first, second = _vector(backend, 1), _vector(backend, 2)
    rows = [
        Request(user_message(PROMPTS[0]), max_new_tokens=12, edit=first, edit_scale=4.0),
        Request(user_message(PROMPTS[1]), max_new_tokens=4, edit=second, edit_scale=4.0),
        Request(user_message(PROMPTS[2]), max_new_tokens=4),
        Request(user_message(PROMPTS[3]), max_new_tokens=4, edit=first, edit_scale=-4.0),
    ]
    alone = [backend.generate([r])[0].text for r in rows]
    engine = ContinuousHF(backend, max_rows=8)
    assert _run(engine, rows) == alone
    log = [next(d for d in engine.log if d.request is r) for r in rows]
    # The second edit's row joined once the first edit's row had left; the first edit's
    # later row waited its turn behind it (first come, first served between edits); the
    # unedited row joined at once.
    assert log[1].admitted_step >= log[0].ended_step
    assert log[3].admitted_step >= log[1].ended_step
    assert log[2].admitted_step == log[0].admitted_step


def test_a_callers_lock_holds_the_model_between_steps():
    backend = _backend()
    lock = threading.RLock()
    engine = ContinuousHF(backend, max_rows=4, lock=lock)
    try:
        with lock:  # a reader of the model (the studio's gate) holds it: no step runs
            future = engine.submit_many([Request(user_message(PROMPTS[0]), max_new_tokens=3)])[0]
            assert not future.done()
            assert engine.steps == 0
        assert (
            future.result(120).text
            == backend.generate([Request(user_message(PROMPTS[0]), max_new_tokens=3)])[0].text
        )
    finally:
        engine.close()
