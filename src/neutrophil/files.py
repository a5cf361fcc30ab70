"""Reading users' files and writing outputs without tracebacks or torn files.

Every way a user's file can be unreadable (missing, a directory, not UTF-8, JSON nested
past Python's recursion limit) becomes one `UserError` line naming FILE[:LINE]. Outputs are
written whole (temp file + rename) so a kill never leaves half a metrics.json behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from neutrophil.errors import UserError


def read_text(path: str | Path, what: str = "file") -> str:
    """The UTF-8 text of a user's file; anything else is one line naming the file (and line)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:  # missing, a directory, no permission
        raise UserError(f"{path}: cannot read {what} ({e.strerror or e})") from None
    return decode(data, str(path))


def decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise UserError(f"{name}:{line}: not UTF-8 text (byte 0x{data[e.start]:02x})") from None


def parse_json(text: str, where: str) -> Any:
    """`json.loads` whose failures (including absurd nesting) are one line naming `where`."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise UserError(f"{where}: invalid JSON ({e.msg} at column {e.colno})") from None
    except RecursionError:
        raise UserError(f"{where}: invalid JSON (nested too deeply)") from None


def atomic_write(path: str | Path, text: str) -> Path:
    """Write `text` to `path` whole or not at all: a temp file in the same directory, fsynced,
    then renamed over `path` (a rename within a directory is atomic)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """For writers that take a file name (a plot, safetensors): a temp path beside `path`,
    with its extension, renamed over `path` once the block ends without an error."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}", dir=path.parent
    )
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def writable_dir(path: str | Path, flag: str = "--out") -> Path:
    """Create `path` if needed and prove a file can be written in it, before any work starts
    (a run must not compute for an hour and then fail to save)."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UserError(f"{flag} {path}: exists and is not a directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        _probe(path)
    except OSError as e:
        raise UserError(f"{flag} {path}: cannot write there ({e.strerror or e})") from None
    return path


def writable_file(path: str | Path, flag: str = "--out") -> Path:
    """Check that a file can be written at `path` (its directory is created if needed)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"{flag} {path}: is a directory, expected a file name")
    parent = path.parent
    if parent.exists() and not parent.is_dir():
        raise UserError(f"{flag} {path}: {parent} is not a directory")
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _probe(parent)
        if path.exists() and not os.access(path, os.W_OK):
            raise PermissionError(13, "Permission denied")
    except OSError as e:
        raise UserError(f"{flag} {path}: cannot write there ({e.strerror or e})") from None
    return path


def _probe(directory: Path) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".write-test.", dir=directory)
    os.close(fd)
    os.unlink(tmp)
