"""The code environment: find code in a response, run it against tests in a sandbox, grade.

Harmful code tasks are never executed: `grade_code_task` refuses them, and
`looks_like_code_attempt` (no execution) is what judges them.
"""

from neutrophil.envs.code.extract import extract_code, looks_like_code_attempt
from neutrophil.envs.code.grade import (
    CodeGrade,
    HarmfulCodeError,
    grade_code_task,
    grade_code_tasks,
)
from neutrophil.envs.code.sandbox import TestResult, network_isolation, run_many, run_tests

__all__ = [
    "CodeGrade",
    "HarmfulCodeError",
    "TestResult",
    "extract_code",
    "grade_code_task",
    "grade_code_tasks",
    "looks_like_code_attempt",
    "network_isolation",
    "run_many",
    "run_tests",
]
