"""Tasks: what an agent is asked to do, harmful or benign, in chat, code or web."""

from neutrophil.tasks.load import load_tasks
from neutrophil.tasks.task import Task, split_for

__all__ = ["Task", "load_tasks", "split_for"]
