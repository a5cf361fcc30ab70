"""Reference defenses the searched prefix is compared with on the held-out split."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neutrophil.defenses.base import NO_DEFENSE, PromptDefense
from neutrophil.defenses.texts import BASELINE_SYSTEM, FEW_SHOT_SYSTEM, FIXED_REFUSAL
from neutrophil.metrics import metrics_dict
from neutrophil.paired import compare_dict
from neutrophil.records import Transcript
from neutrophil.search.evaluate import Evaluator
from neutrophil.tasks.task import Task

_FILLER = (
    "The river runs slowly past the old mill, and in autumn the leaves gather along its "
    "banks in drifts of red and gold while the ducks search the shallows for food."
)


def unrelated_prefix(length: int) -> str:
    """Neutral text of about `length` characters (cut at a word boundary): a control for
    'any prefix at all' changing the model's behaviour."""
    text = _FILLER
    while len(text) < length:
        text = f"{text} {_FILLER}"
    cut = text[: max(length, 1)]
    if len(text) > length and " " in cut:
        cut = cut[: cut.rfind(" ")]
    return cut.rstrip(" ,") + "."


def comparison_defenses(ping_prefix: str) -> list[tuple[str, PromptDefense]]:
    """(label, defense) rows of the held-out comparison: no defense first (every other row
    is paired against it), the same PING text placed as a user-turn suffix and as a system
    prompt (where it goes matters), PING as an assistant prefix last."""
    return [
        ("no defense", NO_DEFENSE),
        ("system-prompt guard", PromptDefense(name="system", system=BASELINE_SYSTEM)),
        ("fixed refusal prefix", PromptDefense(name="prefix", prefix=FIXED_REFUSAL)),
        ("few-shot refusals (system)", PromptDefense(name="system", system=FEW_SHOT_SYSTEM)),
        (
            "unrelated prefix",
            PromptDefense(name="prefix", prefix=unrelated_prefix(len(ping_prefix))),
        ),
        ("PING text as user-turn suffix", PromptDefense(name="suffix", suffix=ping_prefix)),
        ("PING text as system prompt", PromptDefense(name="system", system=ping_prefix)),
        ("PING prefix", PromptDefense(name="prefix", prefix=ping_prefix)),
    ]


def held_out_metrics(
    evaluator: Evaluator, tasks: Sequence[Task], defenses: Sequence[tuple[str, PromptDefense]]
) -> list[tuple[str, dict[str, Any]]]:
    """`metrics.json`-shaped documents for each defense on `tasks` (through the store);
    every row after the first also carries `paired_vs_first`: its rates minus the first
    row's, task by task (see `neutrophil.paired`)."""
    results = evaluator.evaluate([d for _, d in defenses], tasks, desc="held-out")
    out = []
    first: list[Transcript] | None = None
    for (label, d), verdicts in zip(defenses, results, strict=True):
        transcripts = [
            Transcript(
                task_id=t.id,
                kind=t.kind,
                domain=t.domain,
                defense=d.describe(),
                messages=[],
                response=verdicts[t.id].response,
                injected=verdicts[t.id].injected,
                verdict=verdicts[t.id].verdict,
                tags=t.tags,
                split=t.split,
                prompt_tokens=verdicts[t.id].prompt_tokens,
                generated_tokens=verdicts[t.id].generated_tokens,
            )
            for t in tasks
        ]
        cost = {
            "prompt_tokens": sum(x.prompt_tokens for x in transcripts),
            "generated_tokens": sum(x.generated_tokens for x in transcripts),
        }
        m = metrics_dict(transcripts, model=evaluator.model, defense=d.describe(), cost=cost)
        if first is None:
            first = transcripts
        else:
            m["paired_vs_first"] = compare_dict(transcripts, first)
        out.append((label, m))
    return out
