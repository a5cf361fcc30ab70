"""Time grading the built-in benign code tasks with their reference solutions: serial vs parallel.

    .venv/bin/python bench/code_grading.py [--workers 2 4]

Prints one line per mode: tasks, seconds, tasks/s, and how many passed (all should).
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

from neutrophil.envs.code import grade_code_task, grade_code_tasks, network_isolation
from neutrophil.tasks.load import load_builtin

ROOT = Path(__file__).resolve().parents[1]


def _solutions() -> dict[str, str]:
    spec = importlib.util.spec_from_file_location(
        "sol", ROOT / "tests" / "data" / "code_solutions.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.SOLUTIONS


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, nargs="+", default=[2])
    args = ap.parse_args()
    solutions = _solutions()
    items = [
        (t, f"```python\n{solutions[t.id]}```") for t in load_builtin("code") if t.kind == "benign"
    ]
    print(f"isolation: {network_isolation()}")
    t0 = time.perf_counter()
    grades = [grade_code_task(t, r) for t, r in items]
    dt = time.perf_counter() - t0
    ok = sum(g.success for g in grades)
    print(
        f"serial     : {len(items)} tasks  {dt:6.2f}s  {len(items) / dt:5.1f} tasks/s  passed {ok}"
    )
    for w in args.workers:
        t0 = time.perf_counter()
        grades = grade_code_tasks(items, workers=w)
        dt = time.perf_counter() - t0
        ok = sum(g.success for g in grades)
        print(
            f"run_many w={w}: {len(items)} tasks  {dt:6.2f}s  {len(items) / dt:5.1f} tasks/s  passed {ok}"
        )


if __name__ == "__main__":
    main()
