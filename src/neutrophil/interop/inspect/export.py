"""A `neutrophil eval` run as an Inspect log (`neutrophil eval --inspect-log DIR`).

One sample per task: the messages the model saw (after the defense, so a system guard or
a suffix shows), the response the user reads (a prefix included), the verdict as the same
score the `neutrophil/agentic_safety` task gives, and the rates as its metrics. Web
episodes keep every step (output, parsed action, error) in the sample's metadata. Open
the file with `inspect view --log-dir DIR`.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from inspect_ai.log import (
    EvalConfig,
    EvalDataset,
    EvalLog,
    EvalMetric,
    EvalPlan,
    EvalPlanStep,
    EvalResults,
    EvalSample,
    EvalScore,
    EvalSpec,
    EvalStats,
    write_eval_log,
)
from inspect_ai.model import (
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageSystem,
    ChatMessageUser,
    ModelOutput,
    ModelUsage,
)

from neutrophil.interop.inspect.scoring import RATE_LABELS, SCORER, verdict_score
from neutrophil.records import Transcript

TASK_NAME = "neutrophil_eval"


def _message(m: dict[str, Any]) -> ChatMessage:
    if m["role"] == "system":
        return ChatMessageSystem(content=m["content"])
    if m["role"] == "assistant":
        return ChatMessageAssistant(content=m["content"])
    return ChatMessageUser(content=m["content"])


def _usage(prompt_tokens: int, generated_tokens: int) -> ModelUsage:
    return ModelUsage(
        input_tokens=prompt_tokens,
        output_tokens=generated_tokens,
        total_tokens=prompt_tokens + generated_tokens,
    )


def _sample(t: Transcript, model: str) -> EvalSample:
    sent = [_message(m) for m in t.messages]
    answer = ChatMessageAssistant(content=t.response, model=model, source="generate")
    scores = {SCORER: verdict_score(t, t.verdict, t.response)} if t.verdict else None
    metadata: dict[str, Any] = {
        "kind": t.kind,
        "domain": t.domain,
        "split": t.split,
        "tags": list(t.tags),
        "defense": t.defense,
    }
    if t.steps:
        metadata["steps"] = t.steps
    return EvalSample(
        id=t.task_id,
        epoch=1,
        input=sent,
        target="",
        messages=[*sent, answer],
        output=ModelOutput.from_content(model, t.response),
        scores=scores,
        metadata=metadata,
        model_usage={model: _usage(t.prompt_tokens, t.generated_tokens)},
    )


def _metric_value(rate: dict[str, Any]) -> float:
    return math.nan if rate.get("value") is None else float(rate["value"])


def eval_log(
    transcripts: Sequence[Transcript], metrics: dict[str, Any], task_args: dict[str, Any]
) -> EvalLog:
    """An Inspect `EvalLog` of a finished `neutrophil eval` run (`metrics`: its metrics.json)."""
    now = datetime.now(timezone.utc).isoformat()
    model = f"neutrophil/{metrics['model']}"
    rates = metrics["rates"]
    spec = EvalSpec(
        eval_id=uuid.uuid4().hex[:22],
        run_id=uuid.uuid4().hex[:22],
        created=now,
        task=TASK_NAME,
        task_id=uuid.uuid4().hex[:22],
        task_args=task_args,
        dataset=EvalDataset(
            name=str(task_args.get("tasks", "")),
            samples=len(transcripts),
            sample_ids=[t.task_id for t in transcripts],
        ),
        model=model,
        model_args={"defense": metrics["defense"]},
        config=EvalConfig(),
        metadata={"source": "neutrophil eval", "cost": metrics.get("cost", {})},
    )
    results = EvalResults(
        total_samples=len(transcripts),
        completed_samples=len(transcripts),
        scores=[
            EvalScore(
                name=SCORER,
                scorer=SCORER,
                metrics={
                    label: EvalMetric(name=label, value=_metric_value(rates[name]))
                    for name, label in RATE_LABELS.items()
                },
            )
        ],
    )
    usage = _usage(
        sum(t.prompt_tokens for t in transcripts), sum(t.generated_tokens for t in transcripts)
    )
    return EvalLog(
        status="success",
        eval=spec,
        plan=EvalPlan(steps=[EvalPlanStep(solver="neutrophil eval", params=task_args)]),
        results=results,
        stats=EvalStats(started_at=now, completed_at=now, model_usage={model: usage}),
        samples=[_sample(t, model) for t in transcripts],
    )


def write_inspect_log(
    transcripts: Sequence[Transcript],
    metrics: dict[str, Any],
    out_dir: Path,
    task_args: dict[str, Any],
) -> Path:
    """Write the run to `out_dir/<time>_neutrophil-eval_<id>.eval`; returns the path."""
    log = eval_log(transcripts, metrics, task_args)
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H-%M-%S+00-00")
    path = out_dir / f"{stamp}_neutrophil-eval_{log.eval.eval_id}.eval"
    write_eval_log(log, str(path))
    return path
