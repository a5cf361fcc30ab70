"""What a lab measures: its stages, and the paired comparisons between them (the values
`lab.py` makes and `lab_report.py` renders)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from neutrophil.paired import PairedDiff, compare
from neutrophil.records import Transcript


@dataclass(frozen=True)
class Stage:
    name: str
    label: str  # one line for the table
    model_dir: str
    defense: dict[str, Any]
    metrics: dict[str, Any]
    note: str = ""
    transcripts: tuple[Transcript, ...] = field(default=(), repr=False, compare=False)


# The comparisons a lab makes, task by task: (stage, the stage it is compared against).
# Pairs whose stages did not run are left out; extra seeds add (3-agentic-sN, 2-aligned).
PAIRS = (
    ("2-aligned", "1-base"),
    ("3-agentic", "2-aligned"),
    ("4-ping", "3-agentic"),
    ("5-gated", "3-agentic"),
    ("5-gated", "4-ping"),
    ("5-mix", "3-agentic"),
    ("5-mix", "4-ping"),
    ("5-mix", "5-gated"),
    ("5-mix", "2-aligned"),
    ("6-base-ping", "1-base"),
    ("7-base-agentic-prefix", "1-base"),
    ("7-base-agentic-prefix", "6-base-ping"),
    ("8-agentic-base-prefix", "3-agentic"),
    ("8-agentic-base-prefix", "4-ping"),
)


@dataclass(frozen=True)
class Comparison:
    """Stage `a` minus stage `b` on the tasks both measured, for each rate."""

    a: str
    b: str
    diffs: dict[str, PairedDiff]

    def to_dict(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, **{k: d.to_dict() for k, d in self.diffs.items()}}


def compare_stages(stages: list[Stage]) -> list[Comparison]:
    by = {s.name: s for s in stages}
    seeds = [(s.name, "2-aligned") for s in stages if s.name.startswith("3-agentic-s")]
    return [
        Comparison(a, b, compare(by[a].transcripts, by[b].transcripts))
        for a, b in (*PAIRS, *seeds)
        if a in by and b in by
    ]
