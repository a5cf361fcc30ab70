"""Reading a GGUF file's metadata values with the `gguf` package's reader."""

from __future__ import annotations

from typing import Any


def string_field(reader: Any, key: str) -> str | None:
    """The string value of metadata `key` in a `gguf.GGUFReader`, or None if it is absent."""
    field = reader.fields.get(key)
    if field is None:
        return None
    return bytes(field.parts[field.data[0]]).decode("utf-8", errors="replace")
