"""`neutrophil/agentic_safety`: neutrophil's task suites as an Inspect task.

    inspect eval neutrophil/agentic_safety --model neutrophil/smollm2-135m -T split=test --limit 20

Chat and code tasks are one generation each; a web task is an agent loop over the
simulated sites, each step a fresh prompt (the page, the goal, the last actions) exactly as
`neutrophil eval` builds it, ending on a refusal, a `stop` action, too many errors or the
step budget. Token budgets are `envs.domain.Budgets`. The dataset is in `balanced_order`, so
Inspect's own `--limit N` picks the same tasks as `neutrophil eval --limit N`.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from inspect_ai import Task, task
from inspect_ai._util.error import PrerequisiteError
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageSystem, ChatMessageUser, GenerateConfig, get_model
from inspect_ai.solver import Generate, TaskState, solver

from neutrophil.errors import UserError
from neutrophil.interop.inspect.scoring import (
    EPISODE_KEY,
    TASK_KEY,
    judge_one,
    safety_verdict,
    task_of,
)
from neutrophil.interop.inspect.stop import stop_extra
from neutrophil.tasks.task import Task as NTask


def select_tasks(
    tasks: str = "builtin",
    domain: str | None = None,
    split: str | None = None,
    limit: int | None = None,
) -> list[NTask]:
    """The tasks `neutrophil eval --tasks ... --split ... --limit ...` runs, balanced order."""
    from neutrophil.envs.registry import DOMAINS, load_tasks
    from neutrophil.tasks.load import balanced_order

    if domain is not None and domain not in DOMAINS:
        raise UserError(f"-T domain={domain}: choose from {', '.join(DOMAINS)}")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise UserError(f"-T limit={limit}: must be a positive integer")
    spec = f"builtin:{domain}" if domain is not None and tasks == "builtin" else tasks
    loaded = load_tasks(spec, split=split)
    if domain is not None:
        loaded = [t for t in loaded if t.domain == domain]
        if not loaded:
            raise UserError(f"{tasks}: no {domain} tasks")
    ordered = balanced_order(loaded)
    return ordered[:limit] if limit is not None else ordered


def sample_for(t: NTask) -> Sample:
    if t.domain == "web":
        prompt: Any = t.prompt  # the goal; the agent loop builds each step's messages
    else:
        prompt = [ChatMessageUser(content=t.prompt)]
        if t.system:
            prompt.insert(0, ChatMessageSystem(content=t.system))
    return Sample(
        id=t.id,
        input=prompt,
        target="",
        metadata={TASK_KEY: t.to_dict(), "kind": t.kind, "domain": t.domain},
    )


def _stop_rules(judge: str, early_stop: bool, t: NTask) -> dict[str, Any] | None:
    """neutrophil's early stop, only for neutrophil models (see `stop.py`)."""
    model = get_model()
    if early_stop and getattr(model.api, "neutrophil_stop_rules", False):
        return stop_extra(t, judge)
    return None


async def _web_episode(state: TaskState, t: NTask, judge: str, extra: Any) -> TaskState:
    """neutrophil's web episode (`envs/web/domain.py`: a refusal ends it, actions move the
    site, `web_steps` caps it) with Inspect's model generating each step."""
    from neutrophil.envs.domain import Budgets, Settings
    from neutrophil.envs.web.domain import WebEpisode
    from neutrophil.interop.inspect.stop import judge_for
    from neutrophil.models.base import Generation

    budgets = Budgets()
    model = get_model()
    # Early stop travels to the model API in `extra`, so the episode asks for no stop rule.
    episode = WebEpisode(t, Settings(budgets, judge_for(judge), early_stop=False), None)
    config = GenerateConfig(max_tokens=budgets.web_step, temperature=0.0, extra_body=extra)
    going = True
    while going:
        request = episode.request()
        system_msg, user_msg = request.messages
        system = ChatMessageSystem(content=system_msg["content"])
        user = ChatMessageUser(content=user_msg["content"])
        if not episode.steps:
            state.messages = [system]
        output = await model.generate([system, user], config=config)
        state.output = output
        state.messages.extend([user, output.message])
        text = output.completion
        judged = await judge_one(judge, t.prompt, text)
        going = episode.take(request, Generation(text, 0, 0), text, judged)
    reached = episode.env.check(t.payload.get("check") or {})
    refusal = asdict(episode.refusal) if episode.refusal is not None else None
    state.store.set(EPISODE_KEY, {"reached": reached, "refusal": refusal, "steps": episode.steps})
    return state


@solver
def neutrophil_agent(judge: str = "default", early_stop: bool = True):
    """Chat/code: one generation with the domain's token budget; web: the agent loop."""

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        from neutrophil.envs.domain import Budgets

        t = task_of(state)
        extra = _stop_rules(judge, early_stop, t)
        if t.domain == "web":
            return await _web_episode(state, t, judge, extra)
        budget = Budgets().code if t.domain == "code" else Budgets().chat
        return await generate(state, max_tokens=budget, temperature=0.0, extra_body=extra)

    return solve


@task
def agentic_safety(
    domain: str | None = None,
    split: str | None = None,
    limit: int | None = None,
    tasks: str = "builtin",
    judge: str = "default",
    early_stop: bool = True,
) -> Task:
    """neutrophil's harmful and benign agentic tasks: RR, ASR, SR, over-refusal.

    Args:
        domain: chat, code or web (default: all three).
        split: train, val or test (default: all).
        limit: a balanced sample of this many tasks, as `neutrophil eval --limit`.
        tasks: builtin, or any task file `neutrophil eval --tasks` takes.
        judge: the refusal judge: default, patterns, or llm:SPEC.
        early_stop: on neutrophil models, stop each row once its verdict is fixed.
    """
    try:
        selected = select_tasks(tasks, domain, split, limit)
        if not judge.startswith("llm:"):  # an llm: judge loads its model on first use
            from neutrophil.judges.select import judge_from_name

            judge_from_name(judge)  # raises on an unknown name
    except UserError as e:
        raise PrerequisiteError(f"neutrophil/agentic_safety: {e}") from None
    return Task(
        dataset=MemoryDataset([sample_for(t) for t in selected], name=f"neutrophil:{tasks}"),
        solver=neutrophil_agent(judge, early_stop),
        scorer=safety_verdict(judge),
        config=GenerateConfig(temperature=0.0),
    )
