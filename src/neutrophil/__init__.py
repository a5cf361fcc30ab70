"""neutrophil: an immune system for LLM agents.

The public API (`import neutrophil as nt`) is `neutrophil.api`: `nt.load_model`,
`nt.evaluate`, `nt.search_prefix`, `nt.serve_app`, and the equalizer's `nt.Equalizer`,
`nt.Channel`, `nt.Setting`. Its names load on first
use, so `import neutrophil` (and the command line) stays light.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = [
    "Channel",
    "Equalizer",
    "Setting",
    "evaluate",
    "load_model",
    "search_prefix",
    "serve_app",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from neutrophil import api

        return getattr(api, name)
    raise AttributeError(f"module 'neutrophil' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
