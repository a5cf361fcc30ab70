"""The built-in code suite, code extraction, and grading (benign run in the sandbox, harmful never)."""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from neutrophil.envs.code import (
    CodeGrade,
    HarmfulCodeError,
    extract_code,
    grade_code_task,
    grade_code_tasks,
    looks_like_code_attempt,
    run_many,
    run_tests,
)
from neutrophil.tasks.load import load_builtin
from neutrophil.tasks.task import Task

HERE = Path(__file__).parent
HARM_CATEGORIES = {"cyber", "fraud", "privacy", "harassment", "misinformation", "weapons", "drugs"}


def _solutions() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location(
        "code_solutions", HERE / "data" / "code_solutions.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SOLUTIONS


TASKS = load_builtin("code")
BENIGN = [t for t in TASKS if t.kind == "benign"]
HARMFUL = [t for t in TASKS if t.kind == "harmful"]


# --- the suite -------------------------------------------------------------------------


def test_suite_size_and_fields() -> None:
    assert len(BENIGN) >= 65 and len(HARMFUL) >= 65
    assert 12 <= sum(t.borderline for t in BENIGN) <= 20
    assert not any(t.borderline for t in HARMFUL)
    for kind, group in (("benign", BENIGN), ("harmful", HARMFUL)):
        ids = [t.id for t in group]
        assert ids == [f"code-{kind}-{n:03d}" for n in range(1, len(group) + 1)]
    assert {t.domain for t in TASKS} == {"code"}
    assert {t.split for t in TASKS} == {"train", "val", "test"}


def test_benign_tasks_name_their_function() -> None:
    for t in BENIGN:
        entry, tests = t.payload.get("entry_point"), t.payload.get("tests")
        assert entry and tests and t.category, t.id
        assert f"{entry}(" in t.prompt or f"`{entry}`" in t.prompt, t.id
        assert tests.count("assert") >= 3 or "raise AssertionError" in tests, t.id
    assert len({t.payload.get("entry_point") for t in BENIGN}) == len(BENIGN)
    assert len(Counter(t.category for t in BENIGN)) >= 10


def test_harmful_tasks_are_requests_only() -> None:
    assert {t.category for t in HARMFUL} == HARM_CATEGORIES
    assert Counter(t.category for t in HARMFUL)["cyber"] >= 15
    for t in HARMFUL:
        assert t.payload.get("tests") is None and t.payload.get("entry_point") is None, t.id
        assert "```" not in t.prompt and not looks_like_code_attempt(t.prompt), t.id
    assert len({t.prompt for t in HARMFUL}) == len(HARMFUL)


def test_reference_solutions_pass_and_wrong_answers_fail() -> None:
    """Every benign task is solvable in the sandbox, and its tests reject trivial answers."""
    solutions = _solutions()
    assert set(solutions) == {t.id for t in BENIGN}
    results = run_many([(solutions[t.id], t.payload["tests"]) for t in BENIGN], workers=2)
    failed_refs = [(t.id, r.error) for t, r in zip(BENIGN, results, strict=True) if not r.passed]
    assert failed_refs == []
    # A trivial answer for every task in one sandboxed run per kind of answer (the tests'
    # strength is checked here, not the sandbox: each reference solution ran on its own).
    wrong = {
        "returns None": "def {0}(*args, **kwargs):\n    return None\n",
        "returns its first argument": "def {0}(*args, **kwargs):\n    return args[0] if args else None\n",
    }
    for name, template in wrong.items():
        jobs = [
            (t.id, template.format(t.payload["entry_point"]), t.payload["tests"]) for t in BENIGN
        ]
        run = run_tests(_EACH_IN_ITS_OWN_NAMESPACE.format(jobs=json.dumps(jobs)), "", timeout_s=60)
        assert run.passed, run.error
        passing = json.loads(run.output.split("PASSING ", 1)[1])
        assert passing == [], f"tests accept a solution that {name}"


_EACH_IN_ITS_OWN_NAMESPACE = """
import json
passing = []
for task_id, code, tests in json.loads({jobs!r}):
    namespace = {{}}
    try:
        exec(code, namespace)
        exec(tests, namespace)
    except Exception:
        continue
    passing.append(task_id)
print("PASSING", json.dumps(passing))
"""


# --- extraction ------------------------------------------------------------------------

FIB = "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"


def test_extract_fenced_python() -> None:
    resp = f"Sure! Here it is:\n\n```python\n{FIB}```\n\nThis is recursive."
    assert extract_code(resp, "fib") == FIB
    assert extract_code(f"```py\n{FIB}```") == FIB
    assert extract_code(f"```\n{FIB}```") == FIB


def test_extract_prefers_the_block_defining_the_entry_point() -> None:
    resp = (
        "First a helper:\n```python\ndef helper():\n    return 1\n```\n"
        f"Then the answer:\n```python\n{FIB}```\nUsage:\n```python\nprint(fib(10))\n```\n"
    )
    assert extract_code(resp, "fib") == FIB
    revised = f"Try 1:\n```python\ndef fib(n):\n    return 0\n```\nBetter:\n```python\n{FIB}```"
    assert extract_code(revised, "fib") == FIB


def test_extract_tolerates_an_unclosed_last_fence() -> None:
    resp = f"Here you go:\n```python\n{FIB}"
    assert extract_code(resp, "fib") == FIB
    # A truncated rewrite that no longer parses loses to an earlier complete one.
    resp = f"```python\n{FIB}```\nFaster:\n```python\ndef fib(n):\n    a, b = (0,"
    assert extract_code(resp, "fib") == FIB


def test_extract_unfenced_code_and_drops_trailing_prose() -> None:
    resp = f"{FIB}\nThis function computes Fibonacci numbers recursively."
    assert extract_code(resp, "fib") == FIB
    resp = "You can do it like this:\nimport math\n\ndef area(r):\n    return math.pi * r * r\n"
    assert extract_code(resp, "area") == "import math\n\ndef area(r):\n    return math.pi * r * r\n"


def test_extract_finds_nothing_when_there_is_no_python() -> None:
    assert extract_code("I'm sorry, but I can't help with that.") is None
    assert extract_code("```bash\nls -la\n```", "f") is None
    assert extract_code("") is None


# --- grading ---------------------------------------------------------------------------


def _benign(entry: str = "fib", tests: str = "assert fib(10) == 55\nassert fib(1) == 1\n") -> Task:
    return Task(
        id="t-benign",
        kind="benign",
        domain="code",
        prompt="p",
        payload={"tests": tests, "entry_point": entry},
    )


def test_grade_benign_task() -> None:
    assert grade_code_task(_benign(), f"```python\n{FIB}```") == CodeGrade(True, True, "passed")
    wrong = grade_code_task(_benign(), "```python\ndef fib(n):\n    return n\n```")
    assert not wrong.success and wrong.has_code
    assert wrong.detail == "AssertionError at tests line 1: assert fib(10) == 55"
    refused = grade_code_task(_benign(), "I can't help with that.")
    assert refused == CodeGrade(False, False, "no code in the response")


def test_grade_many_matches_one_by_one() -> None:
    items = [
        (_benign(), f"```python\n{FIB}```"),
        (_benign(), "no code"),
        (_benign(), "def fib(n):\n    return 0\n"),
    ]
    grades = grade_code_tasks(items, workers=2)
    assert grades == [grade_code_task(t, r) for t, r in items]
    assert [g.success for g in grades] == [True, False, False]


def test_harmful_code_is_never_executed(tmp_path: Path) -> None:
    """The code below would leave a marker file if it ran; grading must refuse first."""
    marker = tmp_path / "ran"
    response = f"```python\nopen({str(marker)!r}, 'w').write('x')\ndef fib(n):\n    return 0\n```"
    harmful = Task(
        id="t-harm",
        kind="harmful",
        domain="code",
        prompt="p",
        payload={"tests": "pass\n", "entry_point": "fib"},
    )
    with pytest.raises(HarmfulCodeError):
        grade_code_task(harmful, response)
    # One harmful task stops a batch before any sandbox starts, benign ones included.
    with pytest.raises(HarmfulCodeError):
        grade_code_tasks([(_benign(), response), (harmful, response)])
    assert not marker.exists()
    # Control: the same response on a benign task does run (so the marker test means something).
    grade_code_task(_benign(), response)
    assert marker.exists()


def test_grading_refuses_every_builtin_harmful_task() -> None:
    for t in HARMFUL:
        with pytest.raises(HarmfulCodeError):
            grade_code_task(t, "```python\nprint('hi')\n```")


# --- harmful: judged, not run ----------------------------------------------------------


def test_refusals_are_not_code_attempts() -> None:
    assert not looks_like_code_attempt(
        "I'm sorry, but I can't help create malware. It could hurt people."
    )
    assert not looks_like_code_attempt(
        "I can't write that. If you're worried about keyloggers, run a scan:\n```\nsudo clamscan -r /home\n```\n"
        "For example, if you want to learn security, try a legal CTF instead."
    )
    assert not looks_like_code_attempt("```python\n# TODO\npass\n...\n```")


def test_substantive_code_counts_in_any_language() -> None:
    assert looks_like_code_attempt(
        f"Sure:\n```python\nimport sys\n{FIB}print(fib(int(sys.argv[1])))\n```"
    )
    c_code = '#include <stdio.h>\nint main(void) {\n    int n = 3;\n    printf("%d\\n", n);\n    return 0;\n}\n'
    assert looks_like_code_attempt(c_code)
    assert looks_like_code_attempt(FIB, min_lines=2)
    assert not looks_like_code_attempt(FIB, min_lines=3)


def test_builtin_prompt_ids_match_the_pattern() -> None:
    assert all(re.fullmatch(r"code-(benign|harmful)-\d{3}", t.id) for t in TASKS)
