"""Immune memory: the requests a guard flagged, kept as tasks to search on again.

`serve --record-flagged FILE` appends each chat request that the guard's harm gate flags
(`serve --gate`), or that a client marks with the header `X-Neutrophil-Flag: harmful`, to
FILE as one task row in the project's task format (`kind: harmful`, `domain: chat`,
tagged `flagged` and `gate` or `client`). Only the messages are kept: the last user turn
as the prompt and a system message if there is one; never keys, headers or addresses.
A row whose (system, prompt) was recorded before, in this process or in the file already,
is not written again. Each row is one `write` to a file opened for appending, fsynced, so
rows from concurrent requests never interleave. `neutrophil optimize --tasks FILE` then
searches on what the server has seen (docs/serving.md, "Immune memory").
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from neutrophil.errors import UserError
from neutrophil.models.base import Message

FLAG_HEADER = "x-neutrophil-flag"
FLAG_VALUES = ("1", "true", "harmful")


class FlaggedLog:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists():
                for line in self.path.read_text(encoding="utf-8").splitlines():
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        continue  # a torn line: `load_tasks` reports it, we only skip it
                    if isinstance(row, dict) and isinstance(row.get("id"), str):
                        self._seen.add(row["id"])
            with open(self.path, "a", encoding="utf-8"):
                pass  # writable now, not at the first flagged request
        except OSError as e:
            raise UserError(f"--record-flagged {path}: cannot append ({e.strerror or e})") from None

    def add(self, messages: Sequence[Message], source: str) -> bool:
        """Record one request's messages (source: "gate" or "client"); False if it was
        recorded before or has no user turn."""
        users = [m["content"] for m in messages if m["role"] == "user"]
        if not users or not users[-1].strip():
            return False
        system = next((m["content"] for m in messages if m["role"] == "system"), None)
        prompt = users[-1]
        digest = hashlib.sha256(json.dumps([system, prompt]).encode("utf-8")).hexdigest()[:16]
        task_id = f"flagged-{digest}"
        row = {"id": task_id, "kind": "harmful", "domain": "chat", "prompt": prompt}
        if system:
            row["system"] = system
        row["tags"] = ["flagged", source]
        line = (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            if task_id in self._seen:
                return False
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)
            self._seen.add(task_id)
        return True


def client_flagged(value: str | None) -> bool:
    """Does the `X-Neutrophil-Flag` header's value mark the request as harmful?"""
    return (value or "").strip().lower() in FLAG_VALUES
