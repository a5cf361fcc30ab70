"""The `Task` value: one request to an agent, harmful or benign, in one domain.

A task holds what every domain shares (id, kind, prompt, ...) and a `payload` of its
domain's own fields (code: `tests`, `entry_point`; web: `site`, `start`, `check`; any
single-turn task: `prefill`). The domain that runs it (`neutrophil.envs.registry`) says
which payload fields it needs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

KINDS: tuple[str, ...] = ("harmful", "benign")
SPLITS: tuple[str, ...] = ("train", "val", "test")


def split_for(task_id: str) -> str:
    """Deterministic split from the id alone: 50% train, 20% val, 30% test.

    Hashing the id (not the position in a file) keeps a task in the same split when
    files are reordered or grown.
    """
    bucket = int(hashlib.sha256(task_id.encode()).hexdigest()[:8], 16) % 10
    return "train" if bucket < 5 else ("val" if bucket < 7 else "test")


_PAYLOAD_ORDER = ("tests", "entry_point", "site", "start", "check")
COMMON_FIELDS = ("id", "kind", "domain", "prompt", "system", "tags", "split", "category")


@dataclass(frozen=True)
class Task:
    id: str
    kind: str  # one of KINDS
    domain: str  # a registered domain: chat, code, web (neutrophil.envs.registry)
    prompt: str
    system: str | None = None
    tags: tuple[str, ...] = ()
    split: str = ""
    category: str | None = None  # harm category (cyber, fraud, ...) or benign topic
    payload: Mapping[str, Any] = field(default_factory=dict, hash=False)
    origin: str = field(default="", compare=False)  # FILE:LINE it was read from, for errors

    def __post_init__(self) -> None:
        if not self.split:
            object.__setattr__(self, "split", split_for(self.id))

    @property
    def borderline(self) -> bool:
        return "borderline" in self.tags

    @property
    def prefill(self) -> str:
        """The reply's opening words the task itself writes (payload `prefill`; an
        assistant-prefill attack): the model continues them, a defense's prefix precedes
        them, and the judged answer leaves them out."""
        return str(self.payload.get("prefill") or "")

    def where(self) -> str:
        """Where to point an error about this task: FILE:LINE, else its id."""
        return self.origin or f"task {self.id}"

    def to_dict(self) -> dict[str, Any]:
        """The task as a task-file row: the common fields, then the payload's."""
        d: dict[str, Any] = {
            "id": self.id,
            "kind": self.kind,
            "domain": self.domain,
            "prompt": self.prompt,
            "system": self.system,
            "tags": list(self.tags),
            "split": self.split,
            "category": self.category,
        }
        # The payload fields in their order before payloads existed, so stored task
        # hashes (runstore.task_sha) stay what they were.
        keys = [k for k in _PAYLOAD_ORDER if k in self.payload]
        keys += [k for k in self.payload if k not in _PAYLOAD_ORDER]
        d.update((k, self.payload[k]) for k in keys if k not in d)
        return {k: v for k, v in d.items() if v not in (None, [], "")}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)
