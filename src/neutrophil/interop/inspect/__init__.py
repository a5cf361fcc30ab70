"""Inspect AI interop: a `neutrophil/<SPEC>` model API, the `neutrophil/agentic_safety`
task, and Inspect logs of `neutrophil eval` runs. See docs/inspect.md.

Inspect loads `_registry` through the `inspect_ai` entry point; nothing here imports torch
until a model is built.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neutrophil.errors import UserError

if TYPE_CHECKING:
    from neutrophil.report.eval_report import EvalRun


def require_inspect(flag: str) -> None:
    """Inspect AI is an optional dependency: say how to get it, in one line."""
    if importlib.util.find_spec("inspect_ai") is None:
        raise UserError(f"{flag}: needs Inspect AI (pip install 'neutrophil[inspect]')")


def write_eval_run(run: EvalRun, out_dir: Path, task_args: dict[str, Any]) -> Path:
    """Write a `neutrophil eval` run as an Inspect log in `out_dir`; returns the file."""
    require_inspect("--inspect-log")
    from neutrophil.interop.inspect.export import write_inspect_log

    return write_inspect_log(run.transcripts, run.metrics, out_dir, task_args)
