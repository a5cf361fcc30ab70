"""neutrophil's early-stop rules, asked for by neutrophil's own tasks through Inspect.

`neutrophil eval` stops a row as soon as its verdict is fixed (a refusal opening, a closed
code block, one web action). Inspect has no such notion, so the `agentic_safety` solver
sends the rule's name in `GenerateConfig.extra_body["neutrophil"]`, and the neutrophil
model API builds the same stop rule `neutrophil eval` uses (the task's `Domain.stop_rule`). Other
providers never get the key: they generate the full budget, which by design gives the
same verdicts (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from neutrophil.errors import UserError
from neutrophil.tasks.task import Task

EXTRA_KEY = "neutrophil"


@lru_cache(maxsize=4)
def judge_for(name: str) -> Any:
    """One judge per name per process (the default one loads its embedding model once)."""
    from neutrophil.judges.select import judge_from_name

    return judge_from_name(name)


def stop_extra(task: Task, judge: str) -> dict[str, Any]:
    """The `extra_body` that asks a neutrophil model for `task`'s stop rule."""
    return {EXTRA_KEY: {"domain": task.domain, "kind": task.kind, "judge": judge}}


def stop_rule_from(spec: Any) -> Callable[[str], bool] | None:
    from neutrophil.envs.registry import domain_for

    if spec is None:
        return None
    if not isinstance(spec, dict) or not {"domain", "kind", "judge"} <= set(spec):
        raise UserError(f"extra_body.{EXTRA_KEY}: expected domain, kind and judge, got {spec!r}")
    # Stop rules depend on the domain and kind only, never on the payload.
    task = Task(id="stop-rule", kind=str(spec["kind"]), domain=str(spec["domain"]), prompt="-")
    return domain_for(task).stop_rule(task, judge_for(str(spec["judge"])))
