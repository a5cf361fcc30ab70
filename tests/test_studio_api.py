"""Per-request steering (the `neutrophil` extension field) over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import torch

from neutrophil.internals.pairs import concept_names
from neutrophil.models import load_backend
from neutrophil.models.base import Request
from neutrophil.models.continuous import ContinuousHF
from neutrophil.serve.app import create_app
from neutrophil.serve.runner import BackgroundServer
from neutrophil.serve.steering import MixBoard, Steering, build
from tests.conftest import HAS_EMBEDDED, HAS_LLAMA_CPP

MSGS = [{"role": "user", "content": "Tell me about the weather today."}]


@pytest.fixture(scope="module")
def hf():
    return load_backend("tiny", batch_size=4)


@pytest.fixture(scope="module")
def steering(hf):
    return build(hf, {name: name for name in concept_names()}, prefix="PING: ")


@pytest.fixture(scope="module")
def served(hf, steering):
    with BackgroundServer(create_app(hf, steering=steering, max_batch=4)) as url:
        yield url


def chat(url: str, steer: dict | None = None, **extra) -> httpx.Response:
    body = {"messages": MSGS, "max_tokens": 8, **extra}
    if steer is not None:
        body["neutrophil"] = {"steer": steer}
    return httpx.post(f"{url}/chat/completions", json=body, timeout=120)


def text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return response.json()["choices"][0]["message"]["content"]


def test_one_batch_per_row_strengths(hf, steering):
    """Steered and unsteered rows share one batch (one edit object); each gets its mix."""
    base = Request(tuple(MSGS), max_new_tokens=8)
    ask = steering.parse({"neutrophil": {"steer": {"joy": 4}}})
    zero = steering.parse({"neutrophil": {"steer": {"joy": 0}}})
    off = steering.parse({"neutrophil": {"steer": {}}})
    rows = [steering.attach(hf, a, base) for a in (ask, zero, off)]
    assert len({id(r.edit) for r in rows}) == 1  # one edit: the engine batches them together
    steered, at_zero, unsteered = hf.generate(rows)
    assert steered.text != unsteered.text
    assert at_zero.text == unsteered.text
    assert unsteered.text == hf.generate([base])[0].text  # scale 0 leaves the row alone


def test_api_steers_and_plain_is_untouched(served, hf):
    plain = text(chat(served))
    assert text(chat(served, {"joy": 0})) == plain
    assert text(chat(served, {"joy": 4, "anger": -2})) != plain


def test_concurrent_mixes_each_get_their_own(served):
    mixes = [{"joy": 4}, {"fear": -4}, {"joy": 4}, {"fear": -4}]
    alone = [text(chat(served, m)) for m in mixes[:2]]
    with ThreadPoolExecutor(4) as pool:
        together = [text(r) for r in pool.map(lambda m: chat(served, m), mixes)]
    assert together == alone * 2
    assert alone[0] != alone[1]


def test_modes_per_request(served, hf, steering):
    """ablate and clamp ride the same batch as plain and added rows, each its own."""
    plain = text(chat(served))
    ablate = {"refusal": {"mode": "ablate"}, "joy": {"mode": "ablate"}}
    clamp = {"joy": {"mode": "clamp", "value": 4}}
    assert text(chat(served, {"joy": {"mode": "add", "value": 0}})) == plain
    alone = [text(chat(served, m)) for m in (ablate, clamp)]
    assert alone[1] != plain
    assert text(chat(served, {"joy": {"mode": "add", "value": 4}})) == text(
        chat(served, {"joy": 4})
    )
    with ThreadPoolExecutor(3) as pool:
        together = [text(r) for r in pool.map(lambda m: chat(served, m), [ablate, clamp, None])]
    assert together == [*alone, plain]
    # the board keeps modes apart in its codes
    codes = {
        steering.board.code(steering.parse({"neutrophil": {"steer": m}}).steer)
        for m in (ablate, clamp, {"joy": 4})
    }
    assert len(codes) == 3


@pytest.mark.parametrize(
    ("field", "says"),
    [
        ({"steer": {"nope": 1}}, "unknown concept"),
        ({"steer": {"joy": "2"}}, "must be a number"),
        ({"steer": {"joy": True}}, "must be a number"),
        ({"steer": {"joy": 4.5}}, "from -4 to 4"),
        ({"steer": [1]}, "must be an object"),
        ({"steer": {"joy": {"mode": "mute"}}}, "neutrophil.steer.joy.mode: unknown mode 'mute'"),
        ({"steer": {"joy": {"mode": "clamp"}}}, "neutrophil.steer.joy.value: clamp needs a value"),
        ({"steer": {"joy": {"mode": "clamp", "value": 9}}}, "from -4 to 4"),
        ({"steer": {"joy": {"mode": "ablate", "value": 1}}}, "ablate takes no value"),
        ({"steer": {"joy": {"mode": "add", "strength": 1}}}, "unknown field 'strength'"),
        ({"defense": "nope"}, "unknown defense"),
        ({"other": 1}, "unknown field"),
        ("joy", "must be an object"),
    ],
)
def test_bad_steer_is_400(served, field, says):
    r = httpx.post(
        f"{served}/chat/completions",
        json={"messages": MSGS, "max_tokens": 2, "neutrophil": field},
        timeout=60,
    )
    assert r.status_code == 400, r.text
    assert says in r.json()["error"]["message"]


def test_completions_take_the_field_too(served):
    body = {"prompt": "Once upon a time", "max_tokens": 6}
    plain = httpx.post(f"{served}/completions", json=body, timeout=60).json()
    steered = httpx.post(
        f"{served}/completions", json={**body, "neutrophil": {"steer": {"calm": 4}}}, timeout=60
    ).json()
    assert plain["choices"][0]["text"] != steered["choices"][0]["text"]


def test_defenses_and_meter(served):
    gated = chat(served, None, neutrophil={"steer": {}, "defense": ["prefix", "gated-prefix"]})
    assert text(gated).startswith("PING: ")
    meter = httpx.post(f"{served[:-3]}/studio/api/meter", json={"messages": MSGS}, timeout=60)
    assert meter.status_code == 200
    m = meter.json()
    assert isinstance(m["score"], float) and isinstance(m["fires"], bool)


def test_plain_server_refuses_the_field(hf):
    with BackgroundServer(create_app(hf)) as url:
        r = chat(url, {"joy": 1})
    assert r.status_code == 400
    assert "does not steer" in r.json()["error"]["message"]


def trace(url: str, answer: str, steer: dict | None = None) -> dict:
    body = {"messages": MSGS, "answer": answer, "neutrophil": {"steer": steer or {}}}
    r = httpx.post(f"{url.removesuffix('/v1')}/studio/api/trace", json=body, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


def test_the_meter_reads_each_concept_per_answer_token(served, steering):
    answer = "A calm and sunny day."
    plain = trace(served, answer)
    assert plain["layer"] == max(steering.norms)
    assert set(plain["concepts"]) == set(steering.concepts)
    n = len(plain["tokens"])
    assert n > 3 and all(len(v) == n for v in plain["concepts"].values())
    # the meter reads in clamp units: a clamped concept reads its value, an ablated one 0
    clamped = trace(served, answer, {"joy": {"mode": "clamp", "value": 1.5}})
    assert clamped["concepts"]["joy"] == pytest.approx([1.5] * n, abs=1e-3)
    ablated = trace(served, answer, {"joy": {"mode": "ablate"}})
    assert ablated["concepts"]["joy"] == pytest.approx([0.0] * n, abs=1e-3)
    assert plain["concepts"]["joy"] != pytest.approx([0.0] * n, abs=1e-3)
    added = trace(served, answer, {"joy": 2})
    assert all(
        a > b for a, b in zip(added["concepts"]["joy"], plain["concepts"]["joy"], strict=True)
    )


def test_answers_stream_while_the_meter_reads_between_steps(hf, steering, served):
    """The studio decodes continuously with per-row edits: a steered answer streams token
    by token, the concept meter reads its text so far while it is still being decoded,
    and the streamed answer is the one a plain request gets."""
    engine = create_app(hf, steering=steering).state.engine
    engine.close()
    assert isinstance(engine, ContinuousHF)
    mix = {"joy": 4}
    body = {"messages": MSGS, "max_tokens": 24, "stream": True, "neutrophil": {"steer": mix}}
    pieces: list[str] = []
    readings = []
    with httpx.stream("POST", f"{served}/chat/completions", json=body, timeout=120) as r:
        for line in r.iter_lines():
            if not line.startswith("data: {"):
                continue
            delta = json.loads(line[6:])["choices"][0]["delta"].get("content")
            if delta:
                pieces.append(delta)
                if len(readings) < 2:  # the meter, mid-answer
                    readings.append(trace(served, "".join(pieces), mix))
    assert "".join(pieces) == text(chat(served, mix, max_tokens=24))
    assert readings  # read while the answer was open (how many pieces is the loop's pace)
    for reading in readings:
        n = len(reading["tokens"])
        assert n >= 1 and all(len(v) == n for v in reading["concepts"].values())


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"messages": MSGS}, "answer"),
        ({"messages": MSGS, "answer": ""}, "answer"),
        ({"answer": "x"}, "messages"),
        ({"messages": MSGS, "answer": "x", "neutrophil": {"steer": {"joy": 9}}}, "from -4 to 4"),
    ],
)
def test_bad_trace_is_400(served, body, says):
    r = httpx.post(f"{served.removesuffix('/v1')}/studio/api/trace", json=body, timeout=60)
    assert r.status_code == 400 and says in r.json()["error"]["message"], r.text


def test_state_lists_modes_and_fluent_limits(served, steering):
    state = httpx.get(f"{served.removesuffix('/v1')}/studio/api/state", timeout=30).json()
    assert state["modes"] == ["add", "ablate", "clamp"]
    assert set(state["fluent_limits"]) == set(steering.concepts)
    # the random tiny model writes no fluent text: nothing to calibrate against
    assert set(state["fluent_limits"].values()) == {None}


def _cheap_steering(backend) -> Steering:
    """A studio board over the embedded model without the minutes of fitting `build` does
    on a cold cache: one "joy" channel of random directions at a fifth of the residual norm
    per steered layer, and a gate that never fires (the routing is what is tested here)."""
    from neutrophil.internals.equalizer import Channel, Equalizer
    from neutrophil.internals.gate import Gate
    from neutrophil.internals.layers import num_layers
    from neutrophil.internals.probes import LinearProbe
    from neutrophil.internals.strength import default_layers, residual_norms
    from neutrophil.internals.vector import SteeringVector

    twin = backend.local()
    layers = default_layers(num_layers(twin.model))
    norms = residual_norms(twin.model, twin.tokenizer, layers)
    width = twin.model.config.hidden_size
    gen = torch.Generator().manual_seed(0)
    directions = {}
    for n in layers:
        d = torch.randn(width, generator=gen)
        directions[n] = d / d.norm() * norms[n] / 5
    joy = SteeringVector(directions, {"concept": "joy"})
    zeros = torch.zeros(width)
    never = Gate(layers[0], LinearProbe(zeros, torch.ones(width), zeros, -1.0), threshold=0.0)
    board = MixBoard(Equalizer().with_channel(Channel("joy", joy, 1.0)))
    return Steering(board, never, joy, norms=norms)


@pytest.mark.integration
@pytest.mark.skipif(not (HAS_EMBEDDED and HAS_LLAMA_CPP), reason="needs the embedded model")
def test_a_gguf_studio_adds_on_llama_cpp_and_ablates_on_the_twin(embedded_llama):
    """On a GGUF the studio decodes add-only mixes on llama.cpp (a control vector per mix)
    and ablate or clamp rows on the transformers twin; each row's text is the one its
    engine gives it alone, and the meter reads the twin. Over real HTTP too."""
    from neutrophil.models.shared import EditRouter

    steering = _cheap_steering(embedded_llama)
    router = create_app(embedded_llama, steering=steering, max_batch=4).state.engine
    assert isinstance(router, EditRouter) and router.fast is embedded_llama
    assert isinstance(router.hooks, ContinuousHF) and router.queues  # both engines queue
    assert router.hooks.local() is embedded_llama.local()
    base = Request(tuple(MSGS), max_new_tokens=12)
    mixes = [{"joy": 4}, {"joy": {"mode": "ablate"}}, {}, {"joy": {"mode": "clamp", "value": 2}}]
    asks = [steering.parse({"neutrophil": {"steer": m}}) for m in mixes]
    rows = [steering.attach(embedded_llama, a, base) for a in asks]
    assert [router.fast.applies(r) for r in rows] == [True, False, True, False]
    try:
        added, ablated, plain, clamped = (g.text for g in router.generate(rows))
        hooked = [f.request.edit_scale for f in router.hooks.log]
        assert hooked == [rows[1].edit_scale, rows[3].edit_scale]
        assert added == embedded_llama.generate([rows[0]])[0].text != plain
        assert plain == embedded_llama.generate([base])[0].text
        twin = embedded_llama.local()
        assert ablated == twin.generate([rows[1]])[0].text
        assert clamped == twin.generate([rows[3]])[0].text != plain
    finally:
        router.close()
    with BackgroundServer(create_app(embedded_llama, steering=steering, max_batch=4)) as url:
        assert text(chat(url, {"joy": 4}, max_tokens=12)) == added
        assert text(chat(url, {"joy": {"mode": "ablate"}}, max_tokens=12)) == ablated
        assert trace(url, added, {"joy": 4})["concepts"]["joy"]
