"""The keyword a model's forward takes its KV cache by: `cache` in transformers >= 5.x,
`past_key_values` before (5.x still accepts the old name, with a FutureWarning per call)."""

from __future__ import annotations

import inspect
from functools import cache
from typing import Any


@cache
def _keyword(cls: type) -> str:
    params = inspect.signature(cls.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def cache_kw(model: Any, cache: Any) -> dict[str, Any]:
    """`model(**cache_kw(model, cache), ...)` passes `cache` under the right name."""
    return {_keyword(type(model)): cache}
