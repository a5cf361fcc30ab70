"""`-M` arguments of the `neutrophil/<SPEC>` model API, checked before any model loads.

They mirror `neutrophil eval`'s flags, so a defense built here is the one `eval` builds:
`prefix`, `prefix_file`, `system`, `defense`, the steering options `vector`, `probe`,
`threshold`, `strength`, `layers` (`--defense-opt`), plus `steer=NAME=STRENGTH` (shorthand
for `defense=steer vector=NAME strength=STRENGTH`), and the model options `engine`,
`gguf_weights`, `threads`, `batch_size`, `device` (as `ModelOptions`), `batch_wait_ms` (how long a
generate call waits for others to share its batch).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from neutrophil.errors import UserError
from neutrophil.models import DEVICE_PATTERN, DEVICES, ENGINES, GGUF_WEIGHTS
from neutrophil.models.options import ModelOptions

DEFENSE_OPTIONS = ("vector", "probe", "threshold", "strength", "layers")
KNOWN = (
    "prefix",
    "prefix_file",
    "system",
    "defense",
    "steer",
    "engine",
    "gguf_weights",
    "threads",
    "batch_size",
    "device",
    "batch_wait_ms",
    *DEFENSE_OPTIONS,
)


@dataclass(frozen=True)
class ProviderOptions:
    model: ModelOptions  # the spec and how it runs, as the commands' model flags
    prefix: str | None = None
    prefix_file: str | None = None
    system: str | None = None
    defense: str | None = None
    defense_options: dict[str, str] = field(default_factory=dict)
    batch_wait_ms: float = 5.0


def _text(key: str, value: Any) -> str:
    """Inspect's CLI parses `-M` values as YAML and splits them on commas: undo both."""
    if isinstance(value, list):
        return ",".join(_text(key, v) for v in value)
    if isinstance(value, bool):
        # A YAML boolean came from text such as "yes"; no option here takes a boolean.
        raise UserError(f"-M {key}={value}: expected text, got a boolean")
    if value is None:
        raise UserError(f"-M {key}: missing value")
    return str(value)


def _number(key: str, value: Any, kind: type) -> Any:
    try:
        number = kind(_text(key, value))
    except ValueError:
        raise UserError(f"-M {key}={value}: expected a number") from None
    if number <= 0:
        raise UserError(f"-M {key}={value}: must be positive")
    return number


def _steer(value: Any) -> tuple[str, str]:
    """`steer=refusal=2` -> ("refusal", "2")."""
    text = _text("steer", value)
    name, eq, strength = text.rpartition("=")
    try:
        if not eq or not name or "," in text:
            raise ValueError
        float(strength)
    except ValueError:
        raise UserError(
            f"-M steer={text}: expected one NAME=STRENGTH, e.g. steer=refusal=2"
        ) from None
    return name, strength


def parse_options(spec: str, args: dict[str, Any]) -> ProviderOptions:
    """Validate `-M` arguments; every error is one line naming the argument."""
    if not spec:
        raise UserError("model neutrophil/: missing model spec, e.g. neutrophil/smollm2-135m")
    unknown = sorted(set(args) - set(KNOWN))
    if unknown:
        raise UserError(f"-M {unknown[0]}: unknown option (known: {', '.join(KNOWN)})")
    if "prefix" in args and "prefix_file" in args:
        raise UserError("-M prefix and -M prefix_file: give one of them")
    texts = {
        k: _text(k, args[k])
        for k in ("prefix", "prefix_file", "system", "defense", "engine", "gguf_weights", "device")
        if k in args
    }
    defense_options = {k: _text(k, args[k]) for k in DEFENSE_OPTIONS if k in args}
    defense = texts.get("defense")
    if "steer" in args:
        if defense not in (None, "steer"):
            raise UserError(f"-M steer and -M defense={defense}: steer implies defense=steer")
        name, strength = _steer(args["steer"])
        for key in ("vector", "strength"):
            if key in defense_options:
                raise UserError(f"-M steer and -M {key}: give one of them")
        defense = "steer"
        defense_options.update(vector=name, strength=strength)
    for key, choices in (("engine", ENGINES), ("gguf_weights", GGUF_WEIGHTS)):
        if key in texts and texts[key] not in choices:
            raise UserError(f"-M {key}={texts[key]}: expected one of {', '.join(choices)}")
    if "device" in texts and not DEVICE_PATTERN.fullmatch(texts["device"]):
        raise UserError(f"-M device={texts['device']}: expected {DEVICES}")
    return ProviderOptions(
        model=ModelOptions(
            spec=spec,
            batch_size=(
                _number("batch_size", args["batch_size"], int) if "batch_size" in args else 32
            ),
            engine=texts.get("engine", "auto"),
            gguf_weights=texts.get("gguf_weights", "auto"),
            threads=_number("threads", args["threads"], int) if "threads" in args else None,
            device=texts.get("device", "auto"),
        ),
        prefix=texts.get("prefix"),
        prefix_file=texts.get("prefix_file"),
        system=texts.get("system"),
        defense=defense,
        defense_options=defense_options,
        batch_wait_ms=(
            _number("batch_wait_ms", args["batch_wait_ms"], float)
            if "batch_wait_ms" in args
            else 5.0
        ),
    )
