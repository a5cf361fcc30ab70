"""Contrastive-pair files (JSONL: `positive`, `negative`, optional `prompt`) and the
built-in concept sets shipped in `internals/concepts/`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from neutrophil.errors import UserError
from neutrophil.internals.extract import Pair
from neutrophil.tasks.load import read_jsonl


def concept_names() -> tuple[str, ...]:
    root = resources.files("neutrophil.internals") / "concepts"
    return tuple(sorted(p.name[:-6] for p in root.iterdir() if p.name.endswith(".jsonl")))


def concept_path(name: str) -> Path:
    if name not in concept_names():
        raise UserError(
            f"--concept {name}: unknown concept (choose from {', '.join(concept_names())})"
        )
    return Path(str(resources.files("neutrophil.internals") / "concepts" / f"{name}.jsonl"))


def load_pairs(path: str | Path) -> list[Pair]:
    pairs: list[Pair] = []
    for where, row in read_jsonl(Path(path)):
        if not isinstance(row, dict):
            raise UserError(f"{where}: expected a JSON object")
        for key in ("positive", "negative"):
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise UserError(f"{where}: field '{key}' must be a non-empty string")
        prompt = row.get("prompt", "")
        if not isinstance(prompt, str):
            raise UserError(f"{where}: field 'prompt' must be a string")
        pairs.append(Pair(row["positive"], row["negative"], prompt))
    if not pairs:
        raise UserError(f"{path}: no pairs in file")
    return pairs


def concept_pairs(name: str) -> list[Pair]:
    return load_pairs(concept_path(name))
