"""Per-request steering: the `neutrophil` extension field of the OpenAI API.

    {"neutrophil": {"steer": {"joy": 2, "refusal": {"mode": "ablate"}},
                    "defense": "gated-prefix"}}

A concept's value is a strength to add, or `{"mode": "add" | "ablate" | "clamp", "value":
V}` (`internals/equalizer.py` says what each mode does; ablate takes no value).

Every steered request carries the same `MixBoard` as its `Request.edit`: an `Equalizer`
with every concept as a channel. A local engine batches rows that share one edit object,
so requests with different mixes still decode in one batch; each row's mix travels as its
`edit_scale`, a small integer code into the board's table of mixes (0 = no steering, so a
row at scale 0 is left alone, as the `ActivationEdit` protocol says). Codes stay below 256:
the transformers engine hands the scales over in the model's dtype, and bf16 holds every
integer up to 256 exactly. llama.cpp groups rows by (edit, scale), that is by mix, and
asks `layer_deltas(code)` for each group's control vector (adds only: a control vector
cannot ablate or clamp).

A request without the field is untouched (no edit at all).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from neutrophil.defenses.base import place_prefix
from neutrophil.internals.equalizer import ADD, MODES, NEEDS_HOOKS, Channel, Equalizer, Setting
from neutrophil.internals.gate import Gate
from neutrophil.internals.vector import SteeringVector
from neutrophil.models.base import Backend, Request, require_local
from neutrophil.serve.protocol import BadRequest

LIMIT = 4.0  # strengths are calibrated units, -LIMIT..+LIMIT
GATED_STEER = "gated-steer"  # the board's hidden channel: refusal added where the gate fires
DEFENSES = ("prefix", "gated-prefix", "gated-steer")
MAX_CODES = 255


class MixBoard:
    """One `ActivationEdit` for every steered row; `code(mix)` names a mix by a small int."""

    def __init__(self, equalizer: Equalizer) -> None:
        self._eq = equalizer
        self._codes: OrderedDict[tuple[tuple[str, str, float], ...], int] = OrderedDict()
        self._mixes: dict[int, dict[str, Setting]] = {0: {}}
        self._lock = threading.Lock()

    @property
    def names(self) -> tuple[str, ...]:
        return self._eq.names

    def add(self, name: str, vector: SteeringVector) -> None:
        """A new channel (or a new vector for an existing one); mixes keep their codes."""
        with self._lock:
            self._eq = self._eq.with_channel(Channel(name, vector, 1.0))

    def vector(self, name: str) -> SteeringVector:
        return next(c.vector for c in self._eq.channels if c.name == name)

    def code(self, mix: Mapping[str, Setting]) -> int:
        """The code of `mix` (0 when it changes nothing). The least recently asked code
        is reused past 255 distinct mixes: far more than are ever in flight at once."""
        key = tuple(sorted((k, v.mode, v.value) for k, v in mix.items() if not v.is_identity))
        if not key:
            return 0
        with self._lock:
            if key in self._codes:
                self._codes.move_to_end(key)
                return self._codes[key]
            if len(self._codes) < MAX_CODES:
                code = len(self._codes) + 1
            else:
                _, code = self._codes.popitem(last=False)
            self._codes[key] = code
            self._mixes[code] = {name: Setting(mode, value) for name, mode, value in key}
            return code

    def settings(self, codes: Sequence[int]) -> tuple[Equalizer, torch.Tensor, torch.Tensor]:
        """The equalizer and its [rows, channels] strength and mode matrices for these
        row codes."""
        with self._lock:
            eq = self._eq
            rows = [self._mixes.get(int(c), {}) for c in codes]
        off = Setting()
        cells = [[mix.get(name, off) for name in eq.names] for mix in rows]
        shape = (len(rows), len(eq.names))
        strengths = torch.tensor([[c.value for c in r] for r in cells], dtype=torch.float32)
        modes = torch.tensor([[c.code for c in r] for r in cells], dtype=torch.long)
        return eq, strengths.reshape(shape), modes.reshape(shape)

    # ActivationEdit (transformers) -----------------------------------------------------
    def applied(self, model: Any, row_scales: Any) -> AbstractContextManager[None]:
        codes = torch.as_tensor(row_scales).float().round().long().flatten().tolist()
        eq, strengths, modes = self.settings(codes)
        return eq.applied_rows(model, strengths, modes)

    # llama.cpp control vector ----------------------------------------------------------
    def layer_deltas(self, scale: float) -> dict[int, torch.Tensor]:
        eq, strengths, modes = self.settings([round(scale)])
        if bool(modes.ne(ADD).any()):
            raise ValueError(NEEDS_HOOKS)
        return {n: d[0] for n, d in eq.deltas(strengths).items()}


@dataclass(frozen=True)
class Ask:
    """A parsed `neutrophil` field: the strengths asked and the defenses switched on."""

    steer: dict[str, Setting]
    defenses: tuple[str, ...] = ()


@dataclass
class Steering:
    """What a steering server holds: the board, the harm gate and its refusal vector,
    the PING prefix. `lock` serialises every use of the model: steering hooks are
    installed on the model itself, so a gate reading must not overlap a decoding step
    (reentrant: the engine's step decodes text under it)."""

    board: MixBoard
    gate: Gate
    refusal: SteeringVector
    prefix: str | None = None
    gated_prefix: str = ""
    gated_strength: float = 4.0
    norms: dict[int, float] = field(default_factory=dict)  # calibration, by steering layer
    lock: threading.RLock = field(default_factory=threading.RLock)

    def engine(self, backend: Backend, max_rows: int) -> Backend:
        """What the server decodes on (`shared_model_engine` under this board's lock). A
        GGUF on llama.cpp decodes add-only mixes there (control vectors, one group per
        mix) and ablate or clamp rows on its transformers twin (`models/shared.py`)."""
        from neutrophil.models.shared import EditRouter, shared_model_engine

        # Where a model decodes whole batches, the page's two rows (steered, unsteered)
        # arrive together: wait for both.
        wait_s = 0.05
        engine = shared_model_engine(backend, max_rows, self.lock, wait_s=wait_s)
        local = backend.local()
        if local is None or local is backend:
            return engine
        return EditRouter(engine, shared_model_engine(local, max_rows, self.lock, wait_s=wait_s))

    @property
    def concepts(self) -> tuple[str, ...]:
        return tuple(n for n in self.board.names if n != GATED_STEER)

    def parse(self, body: Any) -> Ask | None:
        """The body's `neutrophil` field, checked (a 400 names what is wrong); None when
        the request has none."""
        raw = body.get("neutrophil") if isinstance(body, dict) else None
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise BadRequest("neutrophil must be an object", param="neutrophil")
        unknown = sorted(set(raw) - {"steer", "defense"})
        if unknown:
            raise BadRequest(
                f"neutrophil: unknown field {unknown[0]!r} (known: steer, defense)",
                param=f"neutrophil.{unknown[0]}",
            )
        return Ask(self._steer(raw.get("steer")), self._defenses(raw.get("defense")))

    def _steer(self, steer: Any) -> dict[str, Setting]:
        if steer is None:
            return {}
        if not isinstance(steer, dict):
            raise BadRequest(
                'neutrophil.steer must be an object of concept: setting, e.g. {"joy": 2, '
                '"refusal": {"mode": "ablate"}}',
                param="neutrophil.steer",
            )
        out: dict[str, Setting] = {}
        for name, value in steer.items():
            where = f"neutrophil.steer.{name}"
            if name not in self.concepts:
                raise BadRequest(
                    f"{where}: unknown concept (known: {', '.join(self.concepts)})", param=where
                )
            out[name] = _setting(where, value)
        return out

    def _defenses(self, defense: Any) -> tuple[str, ...]:
        names = [defense] if isinstance(defense, str) else defense
        if names is None:
            return ()
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise BadRequest(
                "neutrophil.defense must be a name or a list of names", param="neutrophil.defense"
            )
        for n in names:
            if n not in DEFENSES:
                raise BadRequest(
                    f"neutrophil.defense: unknown defense {n[:40]!r} (known: {', '.join(DEFENSES)})",
                    param="neutrophil.defense",
                )
        if "prefix" in names and not self.prefix:
            raise BadRequest(
                "neutrophil.defense: this server has no PING prefix (start it with --prefix-file)",
                param="neutrophil.defense",
            )
        return tuple(dict.fromkeys(names))

    def meter(self, backend: Any, request: Request) -> dict[str, Any]:
        """The harm probe's score at the last prompt token, and whether the gate fires."""
        local = require_local(backend, "the gate")
        text = local.render(request.messages)  # the gate was fitted on this rendering
        with self.lock:
            score = float(self.gate.scores(local.model, local.tokenizer, [text])[0])
        return {
            "score": score,
            "threshold": self.gate.threshold,
            "fires": score > self.gate.threshold,
        }

    def trace(self, backend: Any, request: Request, answer: str, ask: Ask | None) -> dict[str, Any]:
        """The concept meter (`internals/meter.py`) for `answer` to `request`, replayed
        under the ask's sliders (not its defenses), read at the last steered layer."""
        from neutrophil.internals.meter import read_concepts

        local = require_local(backend, "the concept meter")
        prompt = local.render(request.messages)
        code = self.board.code(ask.steer) if ask is not None else 0
        eq, strengths, modes = self.board.settings([code])
        channels = [c for c in eq.channels if c.name != GATED_STEER]
        layer = max(self.norms)
        with self.lock, eq.applied_rows(local.model, strengths, modes):
            reading = read_concepts(local.model, local.tokenizer, prompt, answer, channels, layer)
        return {"layer": reading.layer, "tokens": list(reading.tokens), "concepts": reading.values}

    def learn(self, backend: Any, name: str, positive: list[str], negative: list[str]) -> None:
        """A new concept from two lists of contrasting texts, on the loaded model (the
        mean difference at each text's last token, calibrated as the built-ins are)."""
        from neutrophil.internals.extract import extract
        from neutrophil.internals.strength import calibrate

        layers = sorted(self.norms)
        local = require_local(backend, "concept extraction")
        with self.lock:
            raw = extract(local.model, local.tokenizer, positive, negative, layers=layers)
        raw = SteeringVector(raw.directions, {**raw.metadata, "concept": name})
        self.board.add(name, calibrate(raw, self.norms, layers))

    def attach(self, backend: Any, ask: Ask, request: Request) -> Request:
        """`request` with its defenses applied and the board as its edit (blocking: a gated
        defense reads the model, so call it in a thread)."""
        mix = dict(ask.steer)
        fires = False
        if {"gated-prefix", "gated-steer"} & set(ask.defenses):
            fires = bool(self.meter(backend, request)["fires"])
        prefix = ""
        if "prefix" in ask.defenses and self.prefix:
            prefix += self.prefix
        if "gated-prefix" in ask.defenses and fires:
            prefix += self.gated_prefix
        request = place_prefix(request, prefix, backend.prefill_mode)
        if "gated-steer" in ask.defenses and fires:
            mix[GATED_STEER] = Setting("add", self.gated_strength)
        return replace(request, edit=self.board, edit_scale=float(self.board.code(mix)))


def _setting(where: str, value: Any) -> Setting:
    """A number (a strength to add) or {"mode", "value"}; a 400 names what is wrong."""
    if isinstance(value, dict):
        unknown = sorted(set(value) - {"mode", "value"})
        if unknown:
            raise BadRequest(
                f"{where}: unknown field {unknown[0]!r} (known: mode, value)", param=where
            )
        mode = value.get("mode", "add")
        if mode not in MODES:
            raise BadRequest(
                f"{where}.mode: unknown mode {str(mode)[:40]!r} (known: {', '.join(MODES)})",
                param=f"{where}.mode",
            )
        if mode == "ablate":
            if "value" in value:
                raise BadRequest(f"{where}.value: ablate takes no value", param=f"{where}.value")
            return Setting("ablate")
        if "value" not in value:
            raise BadRequest(f"{where}.value: {mode} needs a value", param=f"{where}.value")
        return Setting(mode, _strength(f"{where}.value", value["value"]))
    return Setting("add", _strength(where, value))


def _strength(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadRequest(f"{where} must be a number", param=where)
    if not math.isfinite(value) or abs(value) > LIMIT:
        raise BadRequest(f"{where} must be from {-LIMIT:g} to {LIMIT:g}", param=where)
    return float(value)


def build(
    backend: Any,
    concepts: Mapping[str, str],
    *,
    prefix: str | None = None,
) -> Steering:
    """A steering server's state over `backend` (read through its transformers view,
    `local()`): one channel per concept (name -> a built-in concept name or a vector file),
    calibrated on the middle third of the layers, and the built-in harm gate and refusal
    vector."""
    from neutrophil.defenses.steering import DEFAULT_STRENGTH, default_for
    from neutrophil.defenses.texts import GATED_PREFIX
    from neutrophil.internals.layers import num_layers
    from neutrophil.internals.library import calibrated_vector
    from neutrophil.internals.strength import default_layers, residual_norms

    fitted = default_for(backend)
    local = require_local(backend, "steering")
    layers = default_layers(num_layers(local.model))
    norms = residual_norms(local.model, local.tokenizer, layers)
    eq = Equalizer()
    for name, spec in concepts.items():
        vector = calibrated_vector(backend, spec, layers, norms=norms)
        eq = eq.with_channel(Channel(name, vector, 1.0))
    eq = eq.with_channel(Channel(GATED_STEER, fitted.vector, 1.0))
    return Steering(
        MixBoard(eq),
        fitted.gate,
        fitted.vector,
        prefix=prefix,
        gated_prefix=GATED_PREFIX,
        gated_strength=DEFAULT_STRENGTH,
        norms=norms,
    )
