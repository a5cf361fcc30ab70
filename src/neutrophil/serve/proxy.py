"""The guard proxy: the cure deployed in front of any agent framework.

`neutrophil serve --model SPEC --prefix TEXT` serves SPEC (a local model, or `openai:...`
for a proxy in front of vLLM / llama.cpp / Ollama) through `create_app(backend, defense)`.
"""

from __future__ import annotations

from pathlib import Path

from neutrophil.defenses.base import PromptDefense
from neutrophil.errors import UserError


def guard_defense(prefix: str | None = None, system: str | None = None) -> PromptDefense | None:
    """The defense every chat request passes through, or None when nothing is guarded."""
    if not prefix and not system:
        return None
    return PromptDefense(
        name="prefix" if prefix else "system", system=system or None, prefix=prefix or None
    )


def read_prefix_file(path: str | Path) -> str:
    """A prefix file's text; one trailing newline (an editor's) is dropped, other whitespace
    is kept because it is part of what the model continues from."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise UserError(f"{path}: cannot read prefix file ({e.strerror})") from None
    text = text.removesuffix("\n")
    if not text.strip():
        raise UserError(f"{path}: prefix file is empty")
    return text
