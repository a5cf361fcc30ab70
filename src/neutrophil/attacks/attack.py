"""`Attack`: one jailbreak template, and how it wraps a task's request."""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace

from neutrophil.tasks.task import Task

REQUEST = "{request}"
# How the request is rewritten before it goes into the template.
TRANSFORMS = ("none", "base64", "leet", "split")
_LEET = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"})


@dataclass(frozen=True)
class Attack:
    id: str  # unique within a run, e.g. "builtin:roleplay", "garak:dan:Dan_11_0"
    family: str  # the row of the results table, e.g. "roleplay", "garak:dan"
    template: str  # holds {request} once or more
    transform: str = "none"
    # The attacker's opening words of the reply (an assistant prefill, PING's mirror): the
    # task's `prefill`, which a defense's own prefix still precedes.
    prefill: str = ""

    def __post_init__(self) -> None:
        if REQUEST not in self.template:
            raise ValueError("the template has no {request}")
        if self.transform not in TRANSFORMS:
            raise ValueError(f"unknown transform {self.transform!r}")

    def render(self, request: str) -> str:
        """The attacked prompt for `request`."""
        if self.transform == "split":
            # payload splitting: the request in two variables, joined only by the model
            half = len(request) // 2
            cut = request.rfind(" ", 0, half) + 1 or half
            a, b = request[:cut], request[cut:]
            return self.template.replace(REQUEST, f'a = "{a}"\nb = "{b}"')
        if self.transform == "base64":
            request = base64.b64encode(request.encode("utf-8")).decode("ascii")
        elif self.transform == "leet":
            request = request.lower().translate(_LEET)
        return self.template.replace(REQUEST, request)

    def apply(self, task: Task) -> Task:
        """The attacked task: same kind and domain, its own id, tagged with the family."""
        payload = {**task.payload, "prefill": self.prefill} if self.prefill else task.payload
        return replace(
            task,
            id=f"{task.id}~{self.id}",
            prompt=self.render(task.prompt),
            tags=(*task.tags, f"attack:{self.family}"),
            payload=payload,
            origin=task.origin,
        )


def base_id(task_id: str) -> str:
    """The id of the task an attacked task was made from (itself if not attacked)."""
    return task_id.split("~", 1)[0]
