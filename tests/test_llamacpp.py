"""The llama.cpp engine on the embedded GGUF: the backend contract, continuous batching,
shared prompt KV, control vectors, and one-line errors for bad files."""

from __future__ import annotations

import importlib.util
import struct
from dataclasses import replace

import pytest
import torch

from neutrophil.errors import UserError
from neutrophil.models.base import Backend, Request, user_message

pytestmark = [
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None,
        reason="llama-cpp-python not installed (make install builds it)",
    ),
    pytest.mark.integration,
]

PROMPTS = [
    "What is the capital of France?",
    "Write a haiku about rain.",
    "How do I sort a list in Python?",
    "Name three primary colors.",
    "Explain what a CPU does in one sentence.",
]


@pytest.fixture
def llama(embedded_llama):
    return embedded_llama


def _q4_1(**kw):
    """The embedded model on its stored Q4_1 weights: llama.cpp has no batched Q4_1 kernel
    and computes each row on its own, so here a row's tokens do not depend on what shares
    its batch, and a KV copy can be checked token for token against decoding from scratch
    (Q8_0's batched kernel sums in another order)."""
    from neutrophil.models import embedded_gguf
    from neutrophil.models.llamacpp import LlamaCppBackend

    return LlamaCppBackend(embedded_gguf(), batch_size=4, threads=1, weights="file", **kw)


@pytest.fixture(scope="module")
def shared():
    """KV sharing on (the default)."""
    backend = _q4_1()
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def plain():
    """No KV sharing: every row from scratch."""
    backend = _q4_1(kv_share=False)
    yield backend
    backend.close()


def _req(prompt: str, n: int = 24, **kw) -> Request:
    return Request(user_message(prompt), max_new_tokens=n, **kw)


def test_auto_engine_picks_llama_for_the_embedded_model(llama):
    assert llama.engine == "llama" and llama.prefill_mode == "native"
    assert llama.fingerprint.startswith("llama:")


def test_prompt_tokens_equal_the_transformers_path(llama, embedded_hf):
    for prompt in PROMPTS:
        for system in (None, "You are a careful assistant."):
            msgs = user_message(prompt, system)
            hf_text = embedded_hf.render(msgs, "Sure, ")
            assert llama.render(msgs, "Sure, ") == hf_text
            hf_ids = embedded_hf.tokenizer(hf_text, add_special_tokens=False).input_ids
            assert llama.native.tokenize(hf_text) == hf_ids


def test_contract_budget_eos_and_counts(embedded_backend):
    backend = embedded_backend
    gens = backend.generate([_req(p, 12) for p in PROMPTS])
    for p, g in zip(PROMPTS, gens, strict=True):
        assert 1 <= g.generated_tokens <= 13  # the budget, plus the EOS when one ends the row
        assert g.prompt_tokens == backend.count_tokens(backend.render(user_message(p)))
        assert not g.stopped_early
    # "Name three colors" ends with EOS well inside a long budget.
    (g,) = backend.generate([_req(PROMPTS[3], 200)])
    assert g.generated_tokens < 200 and g.text.strip()


def test_prefill_is_continued_not_repeated(embedded_backend):
    backend = embedded_backend
    plain, pre = backend.generate([_req(PROMPTS[0]), _req(PROMPTS[0], prefill="I refuse")])
    assert not pre.text.startswith("I refuse")
    assert pre.text != plain.text
    assert pre.prompt_tokens > plain.prompt_tokens


def test_stop_when_ends_a_row_at_once(embedded_backend):
    backend = embedded_backend
    seen: list[str] = []

    def stop(text: str) -> bool:
        seen.append(text)
        return len(seen) == 3

    (g,) = backend.generate([_req(PROMPTS[1], 50, stop_when=stop, prefill="Rain: ")])
    assert g.stopped_early and g.generated_tokens == 3
    assert all(s.startswith("Rain: ") for s in seen)  # the rule sees prefill + text


def test_more_rows_than_slots_give_the_same_tokens(shared):
    # 4 sequence slots, 10 rows of mixed budgets: waiting rows take freed slots.
    reqs = [_req(p, n) for p in PROMPTS for n in (5, 30)]
    together = shared.generate(reqs)
    alone = [shared.generate([r])[0] for r in reqs[:4]]
    assert [g.text for g in together[:4]] == [g.text for g in alone]
    assert [g.generated_tokens for g in together] == [
        g.generated_tokens for g in shared.generate(list(reversed(reqs)))[::-1]
    ]


def test_live_rows_keep_consecutive_sequences_as_rows_leave(shared, plain, monkeypatch):
    # llama.cpp decodes in one pass only rows on consecutive sequences listed in order:
    # rows that leave from the middle hand their sequence to the row on the highest one.
    steps: list[tuple[list[int], int]] = []  # (sequences in the order listed, tokens)
    decode = shared.ctx.decode

    def record(entries):
        steps.append((list(dict.fromkeys(seq for _, _, seq, _ in entries)), len(entries)))
        return decode(entries)

    monkeypatch.setattr(shared.ctx, "decode", record)
    reqs = [
        _req(p, n) for p, n in zip(PROMPTS * 2, (3, 40, 9, 25, 6, 14, 30, 4, 18, 11), strict=True)
    ]
    together = shared.generate(reqs)
    monkeypatch.undo()
    assert all(seqs == sorted(seqs) for seqs, _ in steps)
    generating = [seqs for seqs, n in steps if n == len(seqs) > 1]  # a token per row
    assert generating and all(seqs == list(range(len(seqs))) for seqs in generating)
    assert [g.text for g in together] == [plain.generate([r])[0].text for r in reqs]


def test_shared_prompt_rows_match_rows_decoded_alone(shared, plain):
    prefixes = ["", "I", "I will check this first. ", "Sure! Here", "Safety first: "]
    reqs = [_req(PROMPTS[2], 16, prefill=p) for p in prefixes]
    before = shared.scheduler.stats.shared_tokens
    together = shared.generate(reqs)
    assert shared.scheduler.stats.shared_tokens > before  # the KV copy really happened
    alone = [plain.generate([r])[0] for r in reqs]
    assert plain.scheduler.stats.shared_tokens == 0
    assert [g.text for g in together] == [g.text for g in alone]
    assert [g.prompt_tokens for g in together] == [g.prompt_tokens for g in alone]


def test_finished_prompts_are_kept_for_later_rows(shared, plain):
    # Two calls, one system prompt: the second call copies the first one's prompt KV
    # from a finished sequence still held in a free slot.
    system = "You are a careful assistant who answers in one short sentence. " * 3
    first = [Request(user_message(p, system), max_new_tokens=6) for p in PROMPTS[:2]]
    later = [Request(user_message(p, system), max_new_tokens=12) for p in PROMPTS[2:]]
    shared.generate(first)
    before = shared.scheduler.stats.shared_tokens
    gens = shared.generate(later[:1])  # alone: nothing live to share with
    assert shared.scheduler.stats.shared_tokens - before >= 30
    gens += shared.generate(later[1:])
    assert [g.text for g in gens] == [g.text for g in plain.generate(later)]


def test_a_row_that_needs_more_room_waits_for_live_rows_then_the_kv_cache_grows(plain):
    from neutrophil.models.llamacpp import START_SEQ_CTX

    backend = _q4_1()
    try:
        assert backend.ctx.seq_ctx == START_SEQ_CTX and backend.context_length == 2048
        short = _req(PROMPTS[0], 8)
        long = Request(user_message(PROMPTS[1], "Answer plainly. " * 80), max_new_tokens=8)
        assert START_SEQ_CTX < backend.count_tokens(backend.render(long.messages)) < 300
        first, second = backend.submit_many([short, long])  # the long row cannot fit yet
        # Had the cache been rebuilt under the short row, its KV would be gone.
        assert first.result().text == plain.generate([short])[0].text
        assert second.result().text == plain.generate([long])[0].text
        assert backend.ctx.seq_ctx == 2 * START_SEQ_CTX
    finally:
        backend.close()


def test_cancelling_a_future_stops_its_live_row(llama):
    import time

    row = llama.submit_many([_req(PROMPTS[1], 400)])[0]
    while not row.running():  # admitted: decoding
        time.sleep(0.01)
    row.cancel()
    with pytest.raises(RuntimeError, match="cancelled"):
        row.result(timeout=120)
    assert llama.generate([_req(PROMPTS[0], 4)])[0].generated_tokens <= 5  # slot freed


def test_agent_on_a_running_batch_matches_lock_step(llama, tmp_path):
    """Web episodes stepping on their own (continuous batching) reach the same verdicts
    as episodes advanced in lock-step through plain `generate` (texts may differ on a
    near tie: what shares a batch can move the last bits of a logit)."""
    from neutrophil.agent import Agent, Budgets
    from neutrophil.judges import PatternJudge
    from neutrophil.tasks import load_tasks

    class LockStep(Backend):  # the same engine, one whole batch at a time
        name, prefill_mode, capacity = llama.name, llama.prefill_mode, llama.capacity

        def generate(self, requests, *, progress=False):
            return llama.generate(requests, progress=progress)

    tasks = [t for t in load_tasks("builtin") if t.domain == "web"][:2]
    tasks += load_tasks("builtin:chat", limit=1)
    kw = {"judge": PatternJudge(), "budgets": Budgets(chat=24, web_step=32, web_steps=2)}
    queued = Agent(llama, **kw).run(tasks).transcripts
    stepped = Agent(LockStep(), **kw).run(tasks).transcripts
    assert [t.task_id for t in queued] == [t.id for t in tasks]
    for a, b in zip(queued, stepped, strict=True):
        assert a.verdict == b.verdict
    assert any(len(t.steps) > 1 for t in queued)  # episodes really took several steps


def test_submit_joins_a_running_batch(llama):
    long = llama.submit_many([_req(PROMPTS[1], 120)])[0]
    short = llama.submit_many([_req(PROMPTS[0], 4)])[0]
    assert short.result(timeout=120).generated_tokens <= 5
    assert long.result(timeout=120).generated_tokens > 5


def test_prompt_longer_than_the_context_is_a_user_error(llama):
    with pytest.raises(UserError, match="does not fit"):
        llama.generate([_req("word " * 5000)])


def test_steering_vector_moves_llama_like_the_transformers_hook(llama, embedded_hf):
    """The same vector, as a control vector and as a forward hook, shifts the next-token
    logits in the same direction."""
    from neutrophil.internals.vector import SteeringVector

    n_embd, n_layer = llama.native.n_embd, llama.native.n_layer
    gen = torch.Generator().manual_seed(0)
    vec = SteeringVector({n: torch.randn(n_embd, generator=gen) for n in range(10, 20)})
    msgs = user_message(PROMPTS[0])
    text = llama.render(msgs)

    def hf_logits(scale: float):
        enc = embedded_hf.tokenizer(text, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad(), vec.apply(embedded_hf.model, scale):
            return embedded_hf.model(**enc).logits[0, -1].float().numpy()

    def ll_logits(scale: float):
        ctx = llama.ctx
        ctx.set_control(
            {n: v.numpy() for n, v in vec.layer_deltas(scale).items()} if scale else None
        )
        toks = llama.native.tokenize(text)
        ctx.clear(0)
        out = ctx.decode([(t, i, 0, i == len(toks) - 1) for i, t in enumerate(toks)]).copy()
        ctx.clear(0)
        ctx.set_control(None)
        return out[0]

    assert 1 < 10 < 20 < n_layer
    d_hf = hf_logits(2.0) - hf_logits(0.0)
    d_ll = ll_logits(2.0) - ll_logits(0.0)
    cos = float((d_hf @ d_ll) / ((d_hf**2).sum() ** 0.5 * (d_ll**2).sum() ** 0.5))
    assert cos > 0.9
    # Through the backend: a steered request differs from an unsteered one, and strength 0
    # is the unsteered text.
    base, steered, zero = llama.generate(
        [
            _req(PROMPTS[0]),
            replace(_req(PROMPTS[0]), edit=vec, edit_scale=2.0),
            replace(_req(PROMPTS[0]), edit=vec, edit_scale=0.0),
        ]
    )
    assert steered.text != base.text and zero.text == base.text


def test_exported_control_vector_loads_with_llama_cpps_own_reader(tmp_path, llama):
    """`vector export-gguf` output is read back by llama.cpp's own control-vector format
    reader (gguf tensors direction.N) and steers as the in-memory vector does."""
    from neutrophil.internals.gguf_io import export_gguf, import_gguf
    from neutrophil.internals.vector import SteeringVector

    n_embd = llama.native.n_embd
    vec = SteeringVector({n: torch.full((n_embd,), 0.5) for n in (0, 5, 6)})
    path = tmp_path / "v.gguf"
    assert export_gguf(vec, path) == (0,)
    back = import_gguf(path)
    assert back.layers == (5, 6)
    a, b = llama.generate(
        [
            replace(_req(PROMPTS[3]), edit=back, edit_scale=3.0),
            replace(_req(PROMPTS[3]), edit=vec.restricted([5, 6]), edit_scale=3.0),
        ]
    )
    assert a.text == b.text


@pytest.mark.parametrize(
    "content, match",
    [
        (None, "no such GGUF"),
        (b"not a gguf at all", "not a GGUF"),
        (b"GGUF", "truncated"),
        (b"GGUF" + struct.pack("<IQQ", 3, 0, 0), "header only"),
        (b"GGUF" + struct.pack("<IQQ", 3, 5, 2) + b"\0" * 64, "cannot load"),
    ],
)
def test_bad_gguf_files_are_one_line_user_errors(tmp_path, content, match):
    from neutrophil.models import load_backend

    path = tmp_path / "m.gguf"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(UserError, match=match):
        load_backend(str(path), engine="llama")


def test_merged_weights_written_as_gguf_run_on_llama_cpp(tmp_path, embedded_hf):
    """What `finetune --merge` writes beside a merged model (models.gguf_export): the
    transformers weights with the base GGUF's metadata load on llama.cpp and predict the
    same next tokens as transformers does."""
    import numpy as np

    from neutrophil.models import load_backend
    from neutrophil.models.embedded import embedded_gguf
    from neutrophil.models.gguf_export import write_gguf

    out = write_gguf(embedded_hf.model, embedded_gguf(), tmp_path / "model.gguf")
    merged = load_backend(str(out), engine="llama", batch_size=2, threads=1)
    try:
        text = merged.render(user_message(PROMPTS[3]))
        toks = merged.native.tokenize(text)
        merged.ctx.clear(0)
        ll = merged.ctx.decode([(t, i, 0, i == len(toks) - 1) for i, t in enumerate(toks)])[0]
        enc = embedded_hf.tokenizer(text, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            hf = embedded_hf.model(**enc).logits[0, -1].float().numpy()
        assert np.corrcoef(ll, hf)[0, 1] > 0.99  # q/k permuted back correctly
        (g,) = merged.generate([_req(PROMPTS[3], 16)])
        assert g.generated_tokens > 0 and g.text.strip()
    finally:
        merged.close()


def test_a_q4_1_file_runs_as_q8_0_by_default_and_f32_matches_transformers(llama, embedded_hf):
    """The embedded GGUF is Q4_1, so by default it runs requantized to Q8_0 (llama.cpp's
    batched int8 kernels); `file` runs it as stored and `f32` dequantized, and then
    llama.cpp's next-token logits match transformers' (which dequantizes the same way) far
    closer than the quantized kernels do (those quantize activations to 8 bits). The
    fingerprint says which form ran; all three pick the same next token here."""
    import numpy as np

    from neutrophil.models import embedded_gguf
    from neutrophil.models.llamacpp import LlamaCppBackend
    from neutrophil.models.llamacpp.native import NativeContext

    forms = {
        w: LlamaCppBackend(embedded_gguf(), batch_size=1, threads=1, weights=w)
        for w in ("f32", "file")
    }
    try:
        assert llama.weights == "q8_0"
        assert [forms["f32"].weights, forms["file"].weights] == ["f32", "file"]
        assert llama.fingerprint == forms["file"].fingerprint + ":q8_0"
        assert forms["f32"].fingerprint == forms["file"].fingerprint + ":f32"
        text = llama.render(user_message("How do I bake bread?"))
        ids = embedded_hf.tokenizer(text, add_special_tokens=False, return_tensors="pt")
        with torch.no_grad():
            reference = embedded_hf.model(ids.input_ids).logits[0, -1].numpy()
        gaps = {}
        for name, backend in (*forms.items(), ("q8_0", llama)):
            ctx = NativeContext(backend.native, n_seq=1, seq_ctx=256, n_batch=256, threads=1)
            tokens = backend.native.tokenize(text)
            last = len(tokens) - 1
            logits = ctx.decode([(t, i, 0, i == last) for i, t in enumerate(tokens)])[0]
            gaps[name] = float(np.abs(logits - reference).max())
            assert logits.argmax() == reference.argmax(), name
            ctx.free()
        assert gaps["f32"] < 0.05 < min(gaps["file"], gaps["q8_0"])
    finally:
        for backend in forms.values():
            backend.close()


def test_unknown_gguf_weights_form_is_a_user_error():
    from neutrophil.models import embedded_gguf
    from neutrophil.models.llamacpp import LlamaCppBackend

    with pytest.raises(UserError, match="--gguf-weights"):
        LlamaCppBackend(embedded_gguf(), weights="q8")


def test_ablate_and_clamp_are_refused_with_the_engine_to_use(llama):
    from neutrophil.internals.equalizer import Channel, Equalizer
    from neutrophil.internals.vector import SteeringVector

    vector = SteeringVector({10: torch.ones(576)})
    for mode in ("ablate", "clamp"):
        eq = Equalizer((Channel("joy", vector, 1.0, mode=mode),))
        with pytest.raises(UserError, match="--engine hf"):
            llama.generate([_req("Hi", edit=eq, edit_scale=1.0)])
    add = Equalizer((Channel("joy", vector, 0.5),))
    assert llama.generate([_req("Hi", n=4, edit=add, edit_scale=1.0)])[0].text


def test_conversions_are_keyed_by_the_files_bytes(tmp_path, monkeypatch):
    """A GGUF installed again elsewhere (a fresh venv) reuses its cached conversions; a
    changed file does not."""
    from neutrophil.models.embedded import converted_dir, weights_gguf_path

    monkeypatch.setenv("NEUTROPHIL_CACHE", str(tmp_path / "cache"))
    a, b = tmp_path / "a" / "model.gguf", tmp_path / "b" / "model.gguf"
    for path in (a, b):
        path.parent.mkdir()
        path.write_bytes(b"GGUF" + bytes(1000))
    assert converted_dir(a) == converted_dir(b)
    assert weights_gguf_path(a, "q8_0") == weights_gguf_path(b, "q8_0")
    b.write_bytes(b"GGUF" + bytes(1001))
    assert converted_dir(a) != converted_dir(b)
