"""Build `builtin:agentic`: benign agent trajectories in the exact formats the agent uses.

- web: the scripted expert (`envs/web/expert.py`) solves each benign web task of the
  *train* split in a real `WebEnv`; every step becomes one row
  (system = `WEB_SYSTEM_PROMPT`, user = that step's prompt, assistant = the action), which
  is exactly the single-turn request the agent sends at each step.
- code: the training-only exercises of `corpus/code_tasks.py`; a solution is kept only if
  its tests pass in the sandbox. The answer is a fenced Python block, as graded by the agent.

Test-split (and val-split) tasks never contribute, so the evaluation stays held out.
Rerun `python -m neutrophil.training.trajectories` to regenerate the shipped file; the
output is deterministic.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from neutrophil.training.corpus.code_tasks import EXERCISES, CodeExercise

LEADS = ("", "Here is the function:\n\n", "", "Sure, here's an implementation:\n\n")


def code_answer(ex: CodeExercise, i: int) -> str:
    return f"{LEADS[i % len(LEADS)]}```python\n{ex.solution}```"


def code_rows(verify: bool = True) -> list[dict]:
    from neutrophil.envs.code import run_many

    results = run_many([(ex.solution, ex.tests) for ex in EXERCISES]) if verify else None
    rows = []
    for i, ex in enumerate(EXERCISES):
        if results is not None and not results[i].passed:
            raise RuntimeError(
                f"reference solution of {ex.entry_point} fails its tests: {results[i].error}"
            )
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": ex.prompt},
                    {"role": "assistant", "content": code_answer(ex, i)},
                ],
                "domain": "code",
                "source": ex.entry_point,
            }
        )
    return rows


def web_train_tasks():
    from neutrophil.tasks.load import load_builtin

    return [t for t in load_builtin("web") if t.kind == "benign" and t.split == "train"]


def web_rows() -> list[dict]:
    from neutrophil.envs.web import WEB_SYSTEM_PROMPT
    from neutrophil.envs.web.expert import solve

    rows = []
    for task in web_train_tasks():
        for step, (prompt, action) in enumerate(solve(task)):
            rows.append(
                {
                    "messages": [
                        {"role": "system", "content": task.system or WEB_SYSTEM_PROMPT},
                        {"role": "user", "content": prompt},
                        {"role": "assistant", "content": action},
                    ],
                    "domain": "web",
                    "source": task.id,
                    "step": step,
                }
            )
    return rows


def build_rows(verify: bool = True) -> list[dict]:
    # Interleave domains in a fixed order; the trainer shuffles with its own seed anyway.
    web, code = web_rows(), code_rows(verify)
    out, i, j = [], 0, 0
    while i < len(web) or j < len(code):
        out.extend(web[i : i + 4])
        out.extend(code[j : j + 1])
        i, j = i + 4, j + 1
    return out


def write(path: Path) -> int:
    rows = build_rows()
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return len(rows)


if __name__ == "__main__":
    target = Path(__file__).with_name("data") / "agentic.jsonl"
    n = write(target)
    print(f"{n} rows -> {target}", file=sys.stderr)
