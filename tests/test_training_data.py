"""The shipped training sets: regenerable, held out from evaluation, and correct."""

from __future__ import annotations

import json
import re
from collections import defaultdict

import pytest

from neutrophil.judges import PatternJudge
from neutrophil.tasks.load import load_builtin
from neutrophil.training import alignment, trajectories
from neutrophil.training.corpus.code_tasks import EXERCISES
from neutrophil.training.dataset import builtin_data_path, load_conversations


def shipped(name: str) -> list[dict]:
    return [
        json.loads(line)
        for line in builtin_data_path(name).read_text(encoding="utf-8").splitlines()
    ]


def norm(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", s.lower()).strip()


# -- alignment -----------------------------------------------------------------------------


def test_alignment_file_is_the_generator_output():
    assert shipped("alignment") == alignment.build_rows()
    assert len(load_conversations("builtin:alignment")) >= 300


def test_alignment_harmful_prompts_are_not_eval_prompts():
    eval_prompts = {norm(t.prompt) for t in load_builtin()}
    harmful = [r["messages"][0]["content"] for r in shipped("alignment") if r["kind"] == "harmful"]
    assert len(harmful) >= 100
    for p in harmful:
        assert norm(p) not in eval_prompts
        assert not any(norm(p) in e or e in norm(p) for e in eval_prompts), p


def test_alignment_answers_refuse_harmful_and_help_benign():
    rows = shipped("alignment")
    judge = PatternJudge()
    verdicts = judge.judge(
        [r["messages"][0]["content"] for r in rows], [r["messages"][1]["content"] for r in rows]
    )
    kinds = {"harmful": 0, "benign": 0}
    for r, v in zip(rows, verdicts, strict=True):
        kinds[r["kind"]] += 1
        assert v.refused == (r["kind"] == "harmful"), r
    assert kinds["benign"] >= 150 and kinds["harmful"] >= 100
    assert sum(1 for r in rows if r["category"] == "borderline") >= 25
    refusals = {r["messages"][1]["content"] for r in rows if r["kind"] == "harmful"}
    assert len(refusals) >= 0.8 * kinds["harmful"]  # varied wording, not one canned line


# -- agentic -------------------------------------------------------------------------------


def test_agentic_file_is_the_generator_output():
    assert shipped("agentic") == trajectories.build_rows()


def test_agentic_web_rows_come_only_from_train_split_benign_tasks():
    tasks = {t.id: t for t in load_builtin("web")}
    web = [r for r in shipped("agentic") if r["domain"] == "web"]
    assert len(web) >= 50
    for r in web:
        t = tasks[r["source"]]
        assert t.split == "train" and t.kind == "benign"
    test_ids = {t.id for t in tasks.values() if t.split == "test"}
    assert not test_ids & {r["source"] for r in web}


def test_every_web_trajectory_replayed_reaches_its_goal():
    from neutrophil.envs.web import WEB_SYSTEM_PROMPT, WebEnv

    tasks = {t.id: t for t in load_builtin("web")}
    episodes: dict[str, list[dict]] = defaultdict(list)
    for r in shipped("agentic"):
        if r["domain"] == "web":
            episodes[r["source"]].append(r)
    for task_id, rows in episodes.items():
        task = tasks[task_id]
        env = WebEnv.for_task(task)
        history: list[str] = []
        for step, r in enumerate(sorted(rows, key=lambda r: r["step"])):
            system, user, assistant = r["messages"]
            assert r["step"] == step and system["content"] == WEB_SYSTEM_PROMPT
            # The recorded prompt is what the agent would see at this point of the episode.
            assert user["content"] == env.user_prompt(task.prompt, history)
            res = env.step(assistant["content"])
            assert not res.error, (task_id, step, res.error)
            history.append(assistant["content"])
        assert env.check(task.payload["check"]), task_id


def test_code_exercises_are_new_and_their_solutions_pass():
    from neutrophil.envs.code import extract_code, run_many

    eval_names = {
        t.payload.get("entry_point") for t in load_builtin("code") if t.payload.get("entry_point")
    }
    names = [ex.entry_point for ex in EXERCISES]
    assert len(set(names)) == len(names) >= 30
    assert not set(names) & eval_names
    rows = [r for r in shipped("agentic") if r["domain"] == "code"]
    assert [r["source"] for r in rows] == names
    by_name = {ex.entry_point: ex for ex in EXERCISES}
    pairs = []
    for r in rows:
        ex = by_name[r["source"]]
        code = extract_code(r["messages"][1]["content"], ex.entry_point)
        assert code is not None and code.strip() == ex.solution.strip()
        pairs.append((code, ex.tests))
    assert all(res.passed for res in run_many(pairs))


def test_a_wrong_solution_fails_its_tests():
    """The verification is real: a broken reference would be caught."""
    from neutrophil.envs.code import run_tests

    ex = EXERCISES[0]
    assert not run_tests(ex.solution.replace("aeiou", "aei"), ex.tests).passed


@pytest.mark.parametrize("name", ["agentic", "alignment"])
def test_builtin_sets_load(name):
    convs = load_conversations(f"builtin:{name}")
    assert all(c[-1]["role"] == "assistant" for c in convs)
