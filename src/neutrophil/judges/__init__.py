"""Refusal judges: a pattern stage, a learned classifier, and an optional LLM judge."""

from neutrophil.judges.refusal import (
    Judge,
    JudgeResult,
    PatternJudge,
    RefusalJudge,
    default_judge,
)

__all__ = ["Judge", "JudgeResult", "PatternJudge", "RefusalJudge", "default_judge"]
