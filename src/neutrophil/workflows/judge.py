"""`neutrophil judge` as a function: label responses as refusals, and score the judge
against the labels the rows carry.

`run(config, out)` reads rows with `prompt` and `response` (and optionally `label` =
refusal|compliance), writes each row with `refused`, `refusal_score` and `judge` added to
`out` (a JSON-lines file, atomically; None: not written) and returns them with the counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neutrophil.errors import UserError

LABELS = ("refusal", "compliance")


@dataclass(frozen=True)
class JudgeConfig:
    """The options of `neutrophil judge`."""

    rows: str  # a JSON-lines file of rows with prompt and response
    judge: str = "default"  # default, patterns, or llm:SPEC


@dataclass(frozen=True)
class JudgeResult:
    rows: list[dict[str, Any]]  # the input rows with the judge's fields added
    refusals: int
    accuracy: float | None  # against the rows' labels (None: no row is labelled)

    def jsonl(self) -> str:
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.rows)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of `path`, each checked (a bad one is FILE:LINE and what is wrong)."""
    from neutrophil.tasks.load import read_jsonl

    rows = []
    for where, row in read_jsonl(path):
        if not isinstance(row, dict) or not isinstance(row.get("response"), str):
            raise UserError(f"{where}: each row needs a string 'response' (and a 'prompt')")
        if "prompt" in row and not isinstance(row["prompt"], str):
            raise UserError(f"{where}: 'prompt' must be a string")
        label = row.get("label")
        if label is not None and label not in LABELS:
            raise UserError(f"{where}: label must be 'refusal' or 'compliance', got {label!r}")
        rows.append(row)
    if not rows:
        raise UserError(f"{path}: no rows")
    return rows


def run(config: JudgeConfig, out: Path | str | None) -> JudgeResult:
    """Judge every row and write them to `out` (see module docstring)."""
    from neutrophil.files import atomic_write, writable_file
    from neutrophil.judges.select import judge_from_name

    if out is not None:
        writable_file(out)  # before judging: judged rows must not be lost at the end
    rows = read_rows(Path(config.rows))
    judge = judge_from_name(config.judge)
    results = judge.judge([r.get("prompt", "") for r in rows], [r["response"] for r in rows])
    judged = [
        {**row, "refused": res.refused, "refusal_score": round(res.score, 4), "judge": res.judge}
        for row, res in zip(rows, results, strict=True)
    ]
    labelled = [(r["label"] == "refusal", r["refused"]) for r in judged if "label" in r]
    accuracy = sum(a == b for a, b in labelled) / len(labelled) if labelled else None
    result = JudgeResult(judged, sum(r["refused"] for r in judged), accuracy)
    if out is not None:
        atomic_write(out, result.jsonl())
    return result
