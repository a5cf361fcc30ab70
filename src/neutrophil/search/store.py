"""A lossless, resumable record of a search: append-only JSON lines, flushed and fsynced.

`verdicts.jsonl` holds one row per (model, defense, task) as soon as it is judged, so a run
killed at any moment loses at most the rows of the batch in flight; `rounds.jsonl` holds the
candidates each round proposed (so a resumed run evaluates the same ones, whatever the
proposer). A torn last line (a kill mid-write) is ignored on load and rewritten later.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from neutrophil.records import Transcript, Verdict


def defense_key(defense: dict[str, Any]) -> str:
    return json.dumps(defense, sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class StoredVerdict:
    model: str
    defense: str  # defense_key(...)
    task_id: str
    verdict: Verdict
    response: str
    prompt_tokens: int
    generated_tokens: int

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.model, self.defense, self.task_id)


def _read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # torn write of a killed run: that row is simply regenerated
    return rows


def _append(path: Path, rows: Iterable[dict[str, Any]]) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    if not text:
        return
    # A torn last line must not glue onto the next row: start on a fresh line.
    needs_newline = path.exists() and path.stat().st_size > 0 and not _ends_with_newline(path)
    with open(path, "a", encoding="utf-8") as f:
        f.write(("\n" if needs_newline else "") + text)
        f.flush()
        os.fsync(f.fileno())


def _ends_with_newline(path: Path) -> bool:
    with open(path, "rb") as f:
        f.seek(-1, os.SEEK_END)
        return f.read(1) == b"\n"


class SearchStore:
    """The verdict cache and round log of one `--out` directory."""

    def __init__(self, out: str | Path) -> None:
        self.dir = Path(out)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.verdict_path = self.dir / "verdicts.jsonl"
        self.rounds_path = self.dir / "rounds.jsonl"
        self._verdicts: dict[tuple[str, str, str], StoredVerdict] = {}
        for r in _read_rows(self.verdict_path):
            sv = StoredVerdict(
                model=r["model"],
                defense=r["defense"],
                task_id=r["task_id"],
                verdict=Verdict(**r["verdict"]),
                response=r.get("response", ""),
                prompt_tokens=r.get("prompt_tokens", 0),
                generated_tokens=r.get("generated_tokens", 0),
            )
            self._verdicts[sv.key] = sv
        self._rounds = {r["round"]: r for r in _read_rows(self.rounds_path)}

    # -- verdicts ---------------------------------------------------------------------
    def get(self, model: str, defense: dict[str, Any], task_id: str) -> StoredVerdict | None:
        return self._verdicts.get((model, defense_key(defense), task_id))

    def __len__(self) -> int:
        return len(self._verdicts)

    def add_transcripts(self, model: str, transcripts: Sequence[Transcript]) -> None:
        rows = []
        for t in transcripts:
            sv = StoredVerdict(
                model=model,
                defense=defense_key(t.defense),
                task_id=t.task_id,
                verdict=t.verdict or Verdict(refused=False),
                response=t.response,
                prompt_tokens=t.prompt_tokens,
                generated_tokens=t.generated_tokens,
            )
            if sv.key in self._verdicts:
                continue
            self._verdicts[sv.key] = sv
            row = asdict(sv)
            rows.append(row)
        _append(self.verdict_path, rows)

    def tokens(self) -> tuple[int, int]:
        """(prompt, generated) tokens spent on every stored verdict."""
        p = sum(v.prompt_tokens for v in self._verdicts.values())
        g = sum(v.generated_tokens for v in self._verdicts.values())
        return p, g

    # -- rounds -----------------------------------------------------------------------
    def round(self, r: int) -> dict[str, Any] | None:
        return self._rounds.get(r)

    def add_round(self, r: int, candidates: Sequence[str], notes: Sequence[str] = ()) -> None:
        row = {"round": r, "candidates": list(candidates), "notes": list(notes)}
        self._rounds[r] = row
        _append(self.rounds_path, [row])

    # -- derived files ------------------------------------------------------------------
    def write_text(self, name: str, text: str) -> Path:
        """Write a derived file atomically (temp file + rename)."""
        path = self.dir / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
        return path
