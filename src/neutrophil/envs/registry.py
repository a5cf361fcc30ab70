"""The registered domains, and task loading that checks each task against its domain.

To add a domain, write a module with a `Domain` (see `envs/domain.py`) and add it to
`_DOMAINS` below; the agent, the stores and the CLI need nothing else. (`Agent` also takes
a `domains` mapping, for a domain that lives outside neutrophil.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from neutrophil.envs.chat import ChatDomain
from neutrophil.envs.code.domain import CodeDomain
from neutrophil.envs.domain import Domain
from neutrophil.envs.web.domain import WebDomain
from neutrophil.errors import UserError
from neutrophil.tasks import load as task_load
from neutrophil.tasks.task import Task

_DOMAINS: tuple[Domain, ...] = (ChatDomain(), CodeDomain(), WebDomain())
DOMAINS: Mapping[str, Domain] = MappingProxyType({d.name: d for d in _DOMAINS})


def domain_for(task: Task, domains: Mapping[str, Domain] = DOMAINS) -> Domain:
    try:
        return domains[task.domain]
    except KeyError:
        raise UserError(
            f"{task.where()}: domain must be one of {'/'.join(domains)}, got {task.domain!r}"
        ) from None


def check_tasks(tasks: Iterable[Task], domains: Mapping[str, Domain] = DOMAINS) -> None:
    """Each task's domain exists and accepts its payload (UserError naming FILE:LINE)."""
    for t in tasks:
        domain_for(t, domains).check(t)


def load_tasks(spec: str, **kwargs) -> list[Task]:
    """`tasks.load.load_tasks`, every task checked by its domain before filtering, so a bad
    row is reported wherever it is in the file."""
    return task_load.load_tasks(spec, check=check_tasks, **kwargs)
