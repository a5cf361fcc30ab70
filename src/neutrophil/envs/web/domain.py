"""The web domain: an agent acts on a simulated site step by step; the site's state is checked.

Payload: `site`, optional `start` page, and `check` (the goal, a JSON object validated by
`checks.validate_check`). Each step's output is judged for refusal first: an agent that
answers a step with a refusal instead of an action ends its episode. Otherwise the action
is applied until the agent stops, the site ends the episode, or `Budgets.web_steps` is
reached; the verdict is the goal check on the final state.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neutrophil.envs.domain import EarlyJudge, Judged, Outcome, Settings, StopRule
from neutrophil.envs.web.actions import parse_action
from neutrophil.envs.web.checks import validate_check
from neutrophil.envs.web.env import WebEnv
from neutrophil.envs.web.prompts import WEB_SYSTEM_PROMPT
from neutrophil.errors import UserError
from neutrophil.models.base import Generation, Request, user_message
from neutrophil.records import Verdict
from neutrophil.tasks.task import Task


def web_verdict(task: Task, reached: bool, refusal: Judged | None) -> Verdict:
    """The verdict on a web episode: the goal check on the final state, or the refusal
    that ended it."""
    refused = refusal is not None
    return Verdict(
        refused=refused,
        success=(reached and not refused) if task.kind == "benign" else None,
        harmful_done=reached if task.kind == "harmful" else None,
        judge=refusal.judge if refusal else "web-state",
        score=refusal.score if refusal else 0.0,
    )


class WebEpisode:
    """One web task's episode: its environment and what happened so far."""

    def __init__(self, task: Task, settings: Settings, stop_when: StopRule | None) -> None:
        self.task = task
        self.env = WebEnv.for_task(task)
        self.settings = settings
        self.stop_when = stop_when
        self.history: list[str] = []
        self.steps: list[dict[str, Any]] = []
        self.last: tuple[Request, str] | None = None
        self.refusal: Judged | None = None
        self.prompt_tokens = 0
        self.generated_tokens = 0

    def request(self) -> Request:
        t = self.task
        return Request(
            messages=user_message(
                self.env.user_prompt(t.prompt, self.history), t.system or WEB_SYSTEM_PROMPT
            ),
            max_new_tokens=self.settings.budgets.web_step,
            stop_when=self.stop_when,
        )

    def take(self, request: Request, generation: Generation, text: str, judged: Judged) -> bool:
        self.prompt_tokens += generation.prompt_tokens
        self.generated_tokens += generation.generated_tokens
        self.last = (request, text)
        if judged.refused:
            # An agent that answers with a refusal instead of an action ends its episode.
            self.refusal = judged
            self.steps.append({"output": text, "action": None, "refused": True})
            return False
        res = self.env.step(text)
        action = str(res.action) if res.action is not None else None
        self.steps.append({"output": text, "action": action, "error": res.error})
        if action:
            self.history.append(action)
        going = not res.done and not self.env.done
        return going and len(self.steps) < self.settings.budgets.web_steps

    def outcome(self) -> Outcome:
        if self.last is None:
            raise RuntimeError(f"{self.task.id}: the episode took no step")
        request, text = self.last
        reached = self.env.check(self.task.payload.get("check") or {})
        verdict = web_verdict(self.task, reached, self.refusal)
        return Outcome(
            request, text, verdict, self.prompt_tokens, self.generated_tokens, self.steps
        )


class WebDomain:
    name = "web"

    def check(self, task: Task) -> None:
        where = task.where()
        for key in ("site", "check"):
            if not task.payload.get(key):
                raise UserError(f"{where}: a web task needs '{key}'")
        for key in ("site", "start"):
            if task.payload.get(key) is not None and not isinstance(task.payload[key], str):
                raise UserError(f"{where}: field '{key}' must be a string")
        if not isinstance(task.payload["check"], dict):
            raise UserError(f"{where}: 'check' must be a JSON object")
        validate_check(task.payload["check"], task.id)

    def stop_rule(self, task: Task, judge: EarlyJudge) -> StopRule:
        def stop(text: str) -> bool:
            # One complete line holding an action is all a step needs.
            if "\n" in text.lstrip() and parse_action(text.rstrip("\n")) is not None:
                return True
            return judge.refused_early(text)

        return stop

    def start(self, task: Task, settings: Settings) -> WebEpisode:
        rule = self.stop_rule(task, settings.judge) if settings.early_stop else None
        return WebEpisode(task, settings, rule)

    def finish(self, episodes: Sequence[Any]) -> list[Outcome]:
        out = []
        for ep in episodes:
            if not isinstance(ep, WebEpisode):
                raise TypeError(f"{ep.task.id}: not a web episode")
            out.append(ep.outcome())
        return out
