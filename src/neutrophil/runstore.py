"""The run store: transcripts keyed by (run key, defense, task) on append-only JSON lines.

One store file per output directory (`eval`'s responses.jsonl, a search's verdicts.jsonl,
each lab stage's responses.jsonl). Every row is a transcript plus the key it was made under:

    run       {model, engine, judge, budgets, verdicts}: the model's fingerprint, the
              inference engine, the refusal judge, the token budgets and stop rule, the
              version of the verdict rules
    defense   the defense's description (in the transcript)
    task_id   and task_sha, a hash of the whole task (prompt, tests, checks)

A row is reused only under exactly that key, whatever else the file holds and whatever
happened to any metadata file next to it. Rows are appended as soon as they are judged,
flushed and fsynced; a line that does not parse is skipped with a notice naming FILE:LINE and
left in place (rows after it still count); a torn last line (a kill mid-write) is cut off
before the next append so it cannot glue onto a new row. Nothing else is ever rewritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from neutrophil.errors import UserError
from neutrophil.models.base import Backend
from neutrophil.records import VERDICTS, Transcript, Verdict
from neutrophil.tasks.task import Task


def notice(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def defense_key(defense: dict[str, Any]) -> str:
    return json.dumps(defense, sort_keys=True, ensure_ascii=False)


@lru_cache(maxsize=8192)
def task_sha(task: Task) -> str:
    """A task's identity beyond its id: editing a prompt, tests or check changes it."""
    return hashlib.sha256(task.to_json().encode("utf-8")).hexdigest()[:16]


# -- the key -------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunKey:
    """What decides a transcript besides the defense and the task."""

    model: str  # the backend's fingerprint (config/weights/GGUF + engine), else its name
    engine: str
    judge: str
    budgets: str  # token budgets and whether rows stop early
    verdicts: str = VERDICTS  # the verdict rules' version (records.VERDICTS)
    name: str = field(default="", compare=False)  # the model's display name: not part of the key

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> RunKey | None:
        if isinstance(d, dict) and "verdicts" not in d:
            d = {**d, "verdicts": "1"}  # written before verdicts had a version
        names = [f.name for f in fields(cls) if f.compare]
        if not isinstance(d, dict) or not all(isinstance(d.get(n), str) for n in names):
            return None
        return cls(**{n: d[n] for n in names}, name=str(d.get("name", "")))

    def differences(self, stored: RunKey) -> list[str]:
        """'FIELD STORED (this run: NEW)' for each key field that differs."""

        def show(k: RunKey, n: str) -> str:
            value = getattr(k, n)
            return f"{k.name!r} [{value}]" if n == "model" and k.name != value else repr(value)

        return [
            f"{n} {show(stored, n)} (this run: {show(self, n)})"
            for n in (f.name for f in fields(self) if f.compare)
            if getattr(stored, n) != getattr(self, n)
        ]


def judge_id(judge: Any) -> str:
    """A judge's identity: its name plus whatever changes its verdicts."""
    fingerprint = getattr(judge, "fingerprint", None)
    if fingerprint:
        return str(fingerprint)
    parts = [str(getattr(judge, "name", type(judge).__name__))]
    backend = getattr(judge, "backend", None)
    if backend is not None:  # an LLM judge is only as good as the model behind it
        parts.append(backend.fingerprint)
    fallback = getattr(judge, "fallback", None)
    if fallback is not None:
        parts.append(f"fallback={getattr(fallback, 'name', type(fallback).__name__)}")
    for attr in ("threshold", "relevance_floor"):
        value = getattr(judge, attr, None)
        if value is not None:
            parts.append(f"{attr}={value}")
    return " ".join(parts)


def run_key(backend: Backend, judge: Any, budgets: Any, early_stop: bool = True) -> RunKey:
    """The key of transcripts made by `backend` under `judge` with `budgets` (agent.Budgets)."""
    model, engine = backend.fingerprint, backend.engine
    spent = " ".join(f"{k}={v}" for k, v in asdict(budgets).items())
    return RunKey(
        model, engine, judge_id(judge), f"{spent} early_stop={early_stop}", name=backend.name
    )


# -- the file ------------------------------------------------------------------------------
class JsonlLog:
    """An append-only JSON-lines file read leniently: a bad line costs only itself.

    `accept(row, line)` returns None to keep a row or a reason to skip it (with a notice).
    """

    def __init__(self, path: str | Path, accept: Callable[[Any, int], str | None]) -> None:
        self.path = Path(path)
        self.lines = 0  # lines in the file, torn tail excluded
        self._torn_at: int | None = None  # byte offset of a torn last line, cut before appending
        self._needs_newline = False  # a complete last row that lost its newline
        if self.path.exists():
            self._load(accept)

    def _load(self, accept: Callable[[Any, int], str | None]) -> None:
        if self.path.is_dir():
            raise UserError(f"{self.path}: is a directory, expected a JSON-lines file")
        try:
            data = self.path.read_bytes()
        except OSError as e:
            raise UserError(f"{self.path}: cannot read ({e.strerror or e})") from None
        lines = data.split(b"\n")
        tail = lines.pop()  # b"" when the file ends with a newline
        for n, raw in enumerate(lines, 1):
            reason = self._parse(raw, n, accept)
            if reason:
                notice(f"{self.path}:{n}: corrupt line skipped ({reason})")
        self.lines = len(lines)
        if tail.strip():
            n = len(lines) + 1
            if self._parse(tail, n, accept) is None:
                self._needs_newline = True
                self.lines = n
            else:
                notice(f"{self.path}:{n}: incomplete line dropped (interrupted run)")
                self._torn_at = len(data) - len(tail)

    @staticmethod
    def _parse(raw: bytes, n: int, accept: Callable[[Any, int], str | None]) -> str | None:
        if not raw.strip():
            return None
        try:
            row = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            return "not UTF-8"
        except json.JSONDecodeError as e:
            return f"invalid JSON: {e.msg} at column {e.colno}"
        except RecursionError:
            return "invalid JSON: nested too deeply"
        if not isinstance(row, dict):
            return "not a JSON object"
        return accept(row, n)

    def append(self, rows: Iterable[dict[str, Any]]) -> None:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
        if not text:
            return
        if self._needs_newline:
            text = "\n" + text
            self._needs_newline = False
        try:
            if self._torn_at is not None:
                # Only the bytes after the last newline go: a row cut by a kill, never a row.
                os.truncate(self.path, self._torn_at)
                self._torn_at = None
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise UserError(f"{self.path}: cannot append ({e.strerror or e})") from None
        self.lines += text.count("\n") - text.startswith("\n")


# -- transcripts -------------------------------------------------------------------------
def _to_row(run: RunKey, task: Task, t: Transcript, compact: bool) -> dict[str, Any]:
    if compact:
        # Search stores hold candidates x tasks rows: the verdict and response, not the
        # messages (the task and the defense rebuild them); the defense as its key string.
        row: dict[str, Any] = {
            "model": run.model,
            "defense": defense_key(t.defense),
            "task_id": t.task_id,
            "verdict": asdict(t.verdict or Verdict(refused=False)),
            "response": t.response,
            "injected": t.injected,
            "prompt_tokens": t.prompt_tokens,
            "generated_tokens": t.generated_tokens,
            "kind": t.kind,
            "domain": t.domain,
            "split": t.split,
            "tags": list(t.tags),
        }
    else:
        row = json.loads(t.to_json())
    row["run"] = run.to_dict()
    row["task_sha"] = task_sha(task)
    return row


def _from_row(row: dict[str, Any]) -> Transcript:
    d = dict(row)
    if isinstance(d.get("defense"), str):
        d["defense"] = json.loads(d["defense"])
    d.setdefault("messages", [])
    for name in ("task_id", "kind", "domain", "response"):
        if not isinstance(d.get(name), str):
            raise ValueError(f"'{name}' is not a string")
    if not isinstance(d["defense"], dict) or not isinstance(d.get("verdict"), dict):
        raise ValueError("'defense' or 'verdict' is not an object")
    if "injected" not in d:  # written before rows said what was injected (2026-12-05)
        prefix = d["defense"].get("prefix")
        prefix = prefix if isinstance(prefix, str) else ""
        d["injected"] = prefix if prefix and d["response"].startswith(prefix) else ""
    if not isinstance(d["injected"], str):
        raise ValueError("'injected' is not a string")
    return Transcript.from_dict(d)


class RunStore:
    """Transcripts of one store file, looked up by (run key, defense, task)."""

    def __init__(self, path: str | Path, *, compact: bool = False) -> None:
        self.compact = compact
        self._rows: dict[tuple[RunKey, str, str, str], Transcript] = {}
        # For refusals that name a line: first line of each (run, defense), and the stored
        # task hash and line of each (run, defense, task id).
        self._groups: dict[tuple[RunKey, str], int] = {}
        self._tasks: dict[tuple[RunKey, str, str], tuple[str, int]] = {}
        self.unkeyed: list[int] = []  # lines written by an older neutrophil (no run key)
        self.log = JsonlLog(path, self._accept)
        self.path = self.log.path

    def _accept(self, row: dict[str, Any], line: int) -> str | None:
        run = RunKey.from_dict(row.get("run"))
        if run is None:
            if "run" in row:
                return "malformed run key"
            self.unkeyed.append(line)
            return None
        if not isinstance(row.get("task_sha"), str):
            return "no task_sha"
        try:
            t = _from_row(row)
        except (TypeError, ValueError, KeyError, RecursionError) as e:
            return f"not a transcript: {type(e).__name__}: {e}"[:200]
        self._index(run, t, row["task_sha"], line)
        return None

    def _index(self, run: RunKey, t: Transcript, sha: str, line: int) -> bool:
        dkey = defense_key(t.defense)
        key = (run, dkey, t.task_id, sha)
        if key in self._rows:
            return False
        self._rows[key] = t
        self._groups.setdefault((run, dkey), line)
        self._tasks.setdefault((run, dkey, t.task_id), (sha, line))
        return True

    # -- queries ---------------------------------------------------------------------------
    def get(self, run: RunKey, defense: dict[str, Any], task: Task) -> Transcript | None:
        return self._rows.get((run, defense_key(defense), task.id, task_sha(task)))

    def groups(self) -> dict[tuple[RunKey, str], int]:
        """(run key, defense key) -> the first line holding a row of it."""
        return dict(self._groups)

    def stored_task(self, run: RunKey, defense: dict[str, Any], task_id: str) -> tuple[str, int]:
        """(task hash, line) of the first row of `task_id` under this key, or ("", 0)."""
        return self._tasks.get((run, defense_key(defense), task_id), ("", 0))

    def transcripts(self) -> list[Transcript]:
        return list(self._rows.values())

    def __len__(self) -> int:
        return len(self._rows)

    # -- writing ---------------------------------------------------------------------------
    def add(self, run: RunKey, items: Iterable[tuple[Task, Transcript]]) -> int:
        """Append the rows not stored yet (fsynced before returning); how many were new."""
        rows = []
        for task, t in items:
            if t.task_id != task.id:
                raise ValueError(f"transcript {t.task_id!r} paired with task {task.id!r}")
            if self._index(run, t, task_sha(task), self.log.lines + len(rows) + 1):
                rows.append(_to_row(run, task, t, self.compact))
        self.log.append(rows)
        return len(rows)
