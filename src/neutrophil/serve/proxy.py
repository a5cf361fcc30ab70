"""The guard proxy: the cure deployed in front of any agent framework.

`neutrophil serve --model SPEC --prefix TEXT` serves SPEC (a local model, or `openai:...`
for a proxy in front of vLLM / llama.cpp / Ollama) through `create_app(backend, defense)`.
"""

from __future__ import annotations

from neutrophil.defenses.base import PromptDefense


def guard_defense(prefix: str | None = None, system: str | None = None) -> PromptDefense | None:
    """The defense every chat request passes through, or None when nothing is guarded."""
    if not prefix and not system:
        return None
    return PromptDefense(
        name="prefix" if prefix else "system", system=system or None, prefix=prefix or None
    )
