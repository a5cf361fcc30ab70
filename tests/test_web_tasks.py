"""The built-in web suite: it loads, its checks are valid and start false, every benign task
is solved by its expert policy, and every harmful goal state is reachable (so ASR is real)."""

from __future__ import annotations

from collections import Counter

import pytest

from neutrophil.envs.web import WebEnv, expert
from neutrophil.envs.web.checks import SCHEMA
from neutrophil.envs.web.sites.bank import CUSTOMERS
from neutrophil.tasks import Task, load_tasks

TASKS = load_tasks("builtin:web")
HARMFUL = [t for t in TASKS if t.kind == "harmful"]
BENIGN = [t for t in TASKS if t.kind == "benign"]
PLACEHOLDER = "PLACEHOLDER-TEXT"


def test_suite_size_and_coverage() -> None:
    assert len(HARMFUL) >= 45 and len(BENIGN) >= 45
    assert all(
        t.domain == "web" and t.payload.get("site") and t.payload.get("check") and t.category
        for t in TASKS
    )
    assert (
        len({t.payload["site"] for t in HARMFUL}) >= 4
        and len({t.payload["site"] for t in BENIGN}) >= 4
    )
    cats = Counter(t.category for t in HARMFUL)
    assert {
        "fraud",
        "harassment",
        "privacy",
        "misinformation",
        "cyber",
        "drugs",
        "weapons",
        "extremism",
        "self-harm",
    } <= set(cats)
    assert sum(t.borderline for t in BENIGN) >= 10
    assert not any(t.borderline for t in HARMFUL)
    assert {t.split for t in TASKS} == {"train", "val", "test"}
    assert len({t.id for t in TASKS}) == len(TASKS)


@pytest.mark.parametrize("task", TASKS, ids=lambda t: t.id)
def test_nothing_done_and_refusal_leave_check_false(task: Task) -> None:
    env = WebEnv.for_task(task)  # also validates site, start page and check
    assert not env.check(task.payload["check"])
    result = env.step("I'm sorry, but I can't help with that.")
    assert result.error and not env.check(task.payload["check"])
    env.step('stop "I can\'t help with that request."')
    assert env.done and not env.check(task.payload["check"])


@pytest.mark.parametrize("task", BENIGN, ids=lambda t: t.id)
def test_expert_solves_benign_task(task: Task) -> None:
    pairs = expert.solve(task)
    assert pairs[-1][1].startswith("stop ")
    # replaying the expert's actions in a fresh env reaches the goal and shows the same prompts
    env = WebEnv.for_task(task)
    history: list[str] = []
    for prompt, action in pairs:
        assert env.user_prompt(task.prompt, history) == prompt
        assert f"\nGoal: {task.prompt}\n" in prompt
        result = env.step(action)
        assert result.error is None, (action, result.error)
        history.append(action)
    assert env.done and env.steps_taken <= env.max_steps
    assert env.check(task.payload["check"])
    _assert_events_follow_schema(env)


def test_expert_refuses_harmful_tasks() -> None:
    with pytest.raises(ValueError, match="benign tasks only"):
        expert.solve(HARMFUL[0])


def harm_oracle(task: Task) -> WebEnv:
    """Drive the env into the task's harmful goal state, typing only a placeholder plus the
    short identifiers the check requires (names, addresses, keywords) - never harmful content."""
    env = WebEnv.for_task(task)
    drv = expert.Driver(env, "reach the goal state", task.payload["site"])
    checks = task.payload["check"].get("checks", [task.payload["check"]])
    for owner in {c.get("owner") for c in checks} - {None, "sam"}:
        password = next(c.password for c in CUSTOMERS if c.user == owner)
        drv.navigate("bank/login")
        drv.type("Username", owner)
        drv.type("Password", password)
        drv.click("Log in", "button")
    expert.perform(drv, task.payload["check"], filler=PLACEHOLDER)
    return env


@pytest.mark.parametrize("task", HARMFUL, ids=lambda t: t.id)
def test_harmful_goal_state_is_reachable(task: Task) -> None:
    env = harm_oracle(task)
    assert env.check(task.payload["check"])
    assert env.steps_taken <= env.max_steps
    _assert_events_follow_schema(env)
    # free text the oracle wrote is marked as placeholder
    for e in env.events:
        for key in ("body", "reason", "memo"):
            if e.data.get(key):
                assert e.data[key].startswith(PLACEHOLDER)


def test_harmful_and_benign_look_alikes_are_told_apart_by_checks() -> None:
    """A benign look-alike's expert trajectory must not count as the harmful goal state
    when the harmful check names a different target (e.g. Ruth's refill to Sam's address)."""
    by_id = {t.id: t for t in TASKS}
    benign = by_id["web-b-pharmacy-refill-for-ruth"]
    harmful = by_id["web-h-pharmacy-neighbour-oxycodone"]
    env = WebEnv.for_task(benign)
    for _, action in expert.solve(benign):
        env.step(action)
    assert env.check(benign.payload["check"]) and not env.check(harmful.payload["check"])


def _assert_events_follow_schema(env: WebEnv) -> None:
    for e in env.events:
        fields = SCHEMA[e.kind][0]
        assert set(e.data) <= set(fields), (e.kind, set(e.data) - set(fields))
