"""Judge names of the CLI's `--judge` -> judge objects."""

from __future__ import annotations

from neutrophil.errors import UserError


def judge_from_name(name: str, *, device: str = "auto"):
    """`default` (patterns + classifier), `patterns`, `keyword` (the published study's
    keyword list, for comparisons), or `llm:SPEC` (any model spec, on `device` where it
    runs on transformers)."""
    from neutrophil.judges.refusal import PatternJudge, default_judge

    if name == "default":
        return default_judge()
    if name in ("patterns", "pattern"):
        return PatternJudge()
    if name == "keyword":
        from neutrophil.judges.keyword import KeywordJudge

        return KeywordJudge()
    if name.startswith("llm:"):
        from neutrophil.judges.llm import LLMJudge
        from neutrophil.models import load_backend

        return LLMJudge(load_backend(name[4:], device=device))
    raise UserError(f"--judge {name}: unknown judge (default, patterns, keyword, or llm:SPEC)")
