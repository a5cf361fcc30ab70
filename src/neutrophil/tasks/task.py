"""The `Task` value: one request to an agent, harmful or benign, in one domain."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

KINDS: tuple[str, ...] = ("harmful", "benign")
DOMAINS: tuple[str, ...] = ("chat", "code", "web")
SPLITS: tuple[str, ...] = ("train", "val", "test")


def split_for(task_id: str) -> str:
    """Deterministic split from the id alone: 50% train, 20% val, 30% test.

    Hashing the id (not the position in a file) keeps a task in the same split when
    files are reordered or grown.
    """
    bucket = int(hashlib.sha256(task_id.encode()).hexdigest()[:8], 16) % 10
    return "train" if bucket < 5 else ("val" if bucket < 7 else "test")


@dataclass(frozen=True)
class Task:
    id: str
    kind: str  # one of KINDS
    domain: str  # one of DOMAINS
    prompt: str
    system: str | None = None
    tags: tuple[str, ...] = ()
    split: str = ""
    category: str | None = None  # harm category (cyber, fraud, ...) or benign topic
    # code
    tests: str | None = None
    entry_point: str | None = None
    # web
    site: str | None = None
    start: str | None = None
    check: dict[str, Any] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if not self.split:
            object.__setattr__(self, "split", split_for(self.id))

    @property
    def borderline(self) -> bool:
        return "borderline" in self.tags

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["tags"] = list(self.tags)
        return {k: v for k, v in d.items() if v not in (None, [], "")}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)
