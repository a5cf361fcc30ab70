"""A lossless, resumable record of a search: append-only JSON lines, flushed and fsynced.

`verdicts.jsonl` is a run store (neutrophil/runstore.py) in its compact form: one row per
(run key, defense, task) as soon as it is judged, so a run killed at any moment loses at most
the rows of the batch in flight, and a row is reused only under the model, engine, judge and
budgets it was made with (rows of any other key stay in the file, apart). `rounds.jsonl`
holds the candidates each round proposed (so a resumed run evaluates the same ones, whatever
the proposer). Bad lines are skipped with a notice naming FILE:LINE.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neutrophil.errors import UserError
from neutrophil.files import atomic_write
from neutrophil.records import Transcript
from neutrophil.runstore import JsonlLog, RunKey, RunStore, defense_key, notice
from neutrophil.tasks.task import Task

__all__ = ["SearchStore", "StoredVerdict", "defense_key"]

# What the search reads back from the store: `.verdict`, `.response` and the token counts of
# a transcript (compact rows carry no messages).
StoredVerdict = Transcript


def _round_row(row: dict[str, Any], line: int) -> str | None:
    ok = (
        isinstance(row.get("round"), int)
        and isinstance(row.get("candidates"), list)
        and all(isinstance(c, str) for c in row["candidates"])
    )
    return None if ok else "not a round: needs an integer 'round' and a list of 'candidates'"


class SearchStore:
    """The verdict cache and round log of one `--out` directory."""

    def __init__(self, out: str | Path) -> None:
        self.dir = Path(out)
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(
                f"{self.dir}: cannot create the output directory ({e.strerror})"
            ) from None
        self.verdict_path = self.dir / "verdicts.jsonl"
        self.rounds_path = self.dir / "rounds.jsonl"
        self._verdicts = RunStore(self.verdict_path, compact=True)
        if self._verdicts.unkeyed:
            notice(
                f"{self.verdict_path}: {len(self._verdicts.unkeyed)} rows without a run key "
                "(written by an older neutrophil) are not reused"
            )
        self._rounds: dict[int, dict[str, Any]] = {}
        self._round_log = JsonlLog(self.rounds_path, self._keep_round)

    def _keep_round(self, row: dict[str, Any], line: int) -> str | None:
        reason = _round_row(row, line)
        if reason is None:
            self._rounds.setdefault(row["round"], row)
        return reason

    # -- verdicts ---------------------------------------------------------------------
    def get(self, run: RunKey, defense: dict[str, Any], task: Task) -> StoredVerdict | None:
        return self._verdicts.get(run, defense, task)

    def __len__(self) -> int:
        return len(self._verdicts)

    def add_transcripts(
        self, run: RunKey, tasks: Sequence[Task], transcripts: Sequence[Transcript]
    ) -> None:
        self._verdicts.add(run, zip(tasks, transcripts, strict=True))

    def tokens(self) -> tuple[int, int]:
        """(prompt, generated) tokens spent on every stored verdict."""
        rows = self._verdicts.transcripts()
        return sum(v.prompt_tokens for v in rows), sum(v.generated_tokens for v in rows)

    # -- rounds -----------------------------------------------------------------------
    def round(self, r: int) -> dict[str, Any] | None:
        return self._rounds.get(r)

    def add_round(self, r: int, candidates: Sequence[str], notes: Sequence[str] = ()) -> None:
        if not candidates:
            # An empty round (an unreachable proposer) is not replayed: a rerun asks again.
            return
        row = {"round": r, "candidates": list(candidates), "notes": list(notes)}
        self._rounds[r] = row
        self._round_log.append([row])

    # -- derived files ------------------------------------------------------------------
    def write_text(self, name: str, text: str) -> Path:
        """Write a derived file atomically (temp file + rename)."""
        return atomic_write(self.dir / name, text)
