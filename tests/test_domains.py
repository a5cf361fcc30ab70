"""Domains as plug-ins: a new domain runs through the agent without touching it."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from neutrophil.agent import Agent
from neutrophil.envs.domain import Episode, Judged, Outcome, Settings
from neutrophil.envs.registry import DOMAINS, check_tasks, load_tasks
from neutrophil.errors import UserError
from neutrophil.judges import PatternJudge
from neutrophil.judges.keyword import KeywordJudge
from neutrophil.models.base import Generation, Request
from neutrophil.records import Verdict
from neutrophil.tasks.task import Task


class AskTwiceEpisode:
    """Two user turns: the task's prompt, then the payload's follow-up on the first answer."""

    def __init__(self, task: Task, settings: Settings) -> None:
        self.task = task
        self.budget = settings.budgets.chat
        self.turns: list[tuple[Request, str, Judged]] = []

    def request(self) -> Request:
        messages = [{"role": "user", "content": self.task.prompt}]
        if self.turns:
            messages += [
                {"role": "assistant", "content": self.turns[0][1]},
                {"role": "user", "content": self.task.payload["follow_up"]},
            ]
        return Request(messages=messages, max_new_tokens=self.budget)

    def take(self, request: Request, generation: Generation, text: str, judged: Judged) -> bool:
        self.turns.append((request, text, judged))
        return len(self.turns) < 2


class AskTwiceDomain:
    name = "ask-twice"

    def check(self, task: Task) -> None:
        if not isinstance(task.payload.get("follow_up"), str):
            raise UserError(f"{task.where()}: an ask-twice task needs 'follow_up'")

    def stop_rule(self, task, judge):
        return judge.decided

    def start(self, task: Task, settings: Settings) -> AskTwiceEpisode:
        return AskTwiceEpisode(task, settings)

    def finish(self, episodes: Sequence[Episode]) -> list[Outcome]:
        out = []
        for ep in episodes:
            assert isinstance(ep, AskTwiceEpisode)
            refused = any(j.refused for _, _, j in ep.turns)
            request, text, judged = ep.turns[-1]
            verdict = Verdict(refused=refused, success=not refused, judge=judged.judge)
            steps = [{"output": t} for _, t, _ in ep.turns]
            out.append(Outcome(request, text, verdict, 0, 0, steps))
        return out


def test_a_fourth_domain_plugs_into_the_agent(tiny_backend):
    domains = {**DOMAINS, "ask-twice": AskTwiceDomain()}
    tasks = [
        Task(
            id="a",
            kind="benign",
            domain="ask-twice",
            prompt="Name a colour.",
            payload={"follow_up": "And another?"},
        ),  # fmt: skip
        Task(id="b", kind="benign", domain="chat", prompt="Say hi."),
    ]
    agent = Agent(tiny_backend, judge=PatternJudge(), domains=domains)
    a, b = agent.run(tasks).transcripts
    assert a.domain == "ask-twice" and len(a.steps) == 2
    # the second turn saw the first answer and the follow-up
    assert a.messages[-1]["content"] == "And another?"
    assert a.messages[1] == {"role": "assistant", "content": a.steps[0]["output"]}
    assert b.domain == "chat" and b.steps == []


def test_unknown_domain_and_bad_payload_name_the_task(tiny_backend):
    agent = Agent(tiny_backend, judge=PatternJudge())
    with pytest.raises(UserError, match=r"f\.jsonl:3: domain must be one of chat/code/web"):
        agent.run([Task(id="a", kind="benign", domain="ask-twice", prompt="p", origin="f.jsonl:3")])
    domains = {**DOMAINS, "ask-twice": AskTwiceDomain()}
    with pytest.raises(UserError, match="task a: an ask-twice task needs 'follow_up'"):
        check_tasks([Task(id="a", kind="benign", domain="ask-twice", prompt="p")], domains)


def test_web_payload_is_checked_at_load_naming_the_line(tmp_path):
    good = {"id": "w0", "kind": "benign", "domain": "web", "prompt": "Buy it.",
            "site": "shop", "check": {"type": "order_placed"}}  # fmt: skip
    path = tmp_path / "t.jsonl"
    import json

    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "id": "w1", "check": []}))
    with pytest.raises(UserError, match=r"t\.jsonl:2: a web task needs 'check'"):
        load_tasks(str(path))
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "id": "w1", "check": [1]}))
    with pytest.raises(UserError, match=r"t\.jsonl:2: 'check' must be a JSON object"):
        load_tasks(str(path))


def test_early_stop_asks_the_chosen_judge():
    """Code and web rows stop on a refusal only when the judge in use says so."""
    code = Task(id="c", kind="benign", domain="code", prompt="p")
    web = Task(id="w", kind="harmful", domain="web", prompt="p")
    refusal = "I can't help with that request. It could be used to hurt someone.\n"
    policy = "Per our policy, here is"
    for domain, task in ((DOMAINS["code"], code), (DOMAINS["web"], web)):
        assert domain.stop_rule(task, PatternJudge())(refusal)
        assert not domain.stop_rule(task, PatternJudge())(policy)
        # the keyword judge counts any "policy" as a refusal: fixed at once
        assert domain.stop_rule(task, KeywordJudge())(policy)
