"""Defense names of `neutrophil eval --defense` -> Defense objects."""

from __future__ import annotations

from pathlib import Path

from neutrophil.defenses.base import NO_DEFENSE, Defense, PromptDefense
from neutrophil.defenses.texts import GUARD_PREFIX, GUARD_SYSTEM
from neutrophil.errors import UserError
from neutrophil.files import read_text
from neutrophil.models.base import Backend

TEXT_DEFENSES = ("none", "prefix", "system", "suffix")
LOCAL_DEFENSES = ("steer", "gated-steer", "gated-prefix")


def read_prefix_file(path: str | Path, flag: str = "--prefix-file") -> str:
    """A defense text from a user's file, the same bytes wherever it is used (eval, serve,
    the studio, the Inspect provider, gates). One trailing newline (an editor's, or the one
    `optimize` writes after best_prefix.txt) is dropped; every other character is kept,
    because whitespace is part of what the model continues from."""
    content = read_text(Path(path), f"{flag} file").removesuffix("\n")
    if not content.strip():
        raise UserError(f"{path}: {flag} file is empty")
    return content


def read_text_arg(text: str | None, file: str | None, flag: str) -> str | None:
    """The text of an option given inline (`text`) or as a file (`file` wins when set)."""
    return text if file is None else read_prefix_file(file, flag)


def build_defense(
    name: str | None,
    *,
    backend: Backend | None = None,
    prefix: str | None = None,
    system: str | None = None,
    options: dict[str, str] | None = None,
) -> Defense:
    """The one builder of defenses by name (`eval --defense`, the search, gates, the demo,
    the guard proxy). `--prefix` implies the prefix defense; `--system` adds a system-prompt
    guard to any. The steering defenses need the local `backend` they steer."""
    if name is None:
        name = "prefix" if prefix else ("system" if system else "none")
    if name in TEXT_DEFENSES:
        if name == "prefix" and not prefix:
            prefix = GUARD_PREFIX
        if name == "system" and not system:
            system = GUARD_SYSTEM
        if name == "suffix":
            return PromptDefense(name="suffix", suffix=prefix or GUARD_PREFIX, system=system)
        if name == "none" and not (prefix or system):
            return NO_DEFENSE
        label = "prefix" if prefix else ("system" if system else "none")
        return PromptDefense(name=label, prefix=prefix, system=system)
    if name in LOCAL_DEFENSES:
        if backend is None:
            raise UserError(f"--defense {name}: needs the model it steers")
        from neutrophil.defenses.steering import build_local_defense

        return build_local_defense(
            name, backend=backend, prefix=prefix, system=system, options=options or {}
        )
    raise UserError(
        f"--defense {name}: unknown defense (choose from {', '.join(TEXT_DEFENSES + LOCAL_DEFENSES)})"
    )


def guard_defense(prefix: str | None = None, system: str | None = None) -> Defense | None:
    """What the guard proxy puts in front of every chat request, or None (nothing guarded)."""
    if not prefix and not system:
        return None
    return build_defense(None, prefix=prefix, system=system)
