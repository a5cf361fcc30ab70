"""The `neutrophil eval` report: CI bar charts per domain and defense, examples, cost."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from neutrophil.metrics import RATE_LABELS, Rate, rate_from_dict
from neutrophil.records import Transcript
from neutrophil.report.html import Html, esc, page, section, table
from neutrophil.report.svg import rate_panels

HARMFUL_PROMPT_CHARS = 70  # harmful prompts are shown truncated


@dataclass(frozen=True)
class EvalRun:
    """One evaluated run: its label, its `metrics.json` document and its transcripts."""

    label: str
    metrics: dict[str, Any]
    transcripts: Sequence[Transcript]

    @property
    def rates(self) -> dict[str, Rate]:
        """Each rate (`refusal_rate`, `success_rate`, ...) with its 95% Wilson interval;
        `str()` of one reads `42.0% [30.1, 54.9] (n=20)`."""
        return {name: rate_from_dict(d) for name, d in self.metrics["rates"].items()}


def rate_figure(runs: Sequence[EvalRun]) -> Html:
    """One panel per rate; bars per domain (and overall), one colour per run, 95% CI whiskers."""
    domains = ["all", *sorted({d for r in runs for d in r.metrics["by_domain"]})]
    series = []
    for run in runs:
        by_group = {"all": run.metrics["rates"], **run.metrics["by_domain"]}
        rates = {
            d: {name: rate_from_dict(v) for name, v in by_group.get(d, {}).items()} for d in domains
        }
        series.append((run.label, rates))
    return rate_panels(RATE_LABELS, domains, series)


def headline_rows(runs: Sequence[EvalRun]) -> list[list[str]]:
    rows = []
    for run in runs:
        r = run.metrics["rates"]
        # A run written before a rate existed (fluency_rate: verdict rules 2) shows n/a.
        rows.append(
            [run.label, *(str(rate_from_dict(r[n])) if n in r else "n/a" for n in RATE_LABELS)]
        )
    return rows


def paired_rows(runs: Sequence[EvalRun]) -> list[list[str]]:
    """Each later run against the first, task by task: the difference of every rate with
    its 95% interval and McNemar's exact p (* below 0.05), and the n it rests on."""
    from neutrophil.paired import compare

    rows = []
    base = runs[0]
    for run in runs[1:]:
        diffs = compare(run.transcripts, base.transcripts)
        rows.append([f"{run.label} − {base.label}", *(str(diffs[n]) for n in PAIRED_RATES)])
    return rows


PAIRED_RATES = ("refusal_rate", "attack_success_rate", "success_rate", "over_refusal_rate")


def example_rows(transcripts: Sequence[Transcript], per_group: int = 2) -> list[list[str]]:
    seen: dict[tuple[str, str], int] = {}
    rows = []
    for t in transcripts:
        key = (t.domain, t.kind)
        if seen.get(key, 0) >= per_group:
            continue
        seen[key] = seen.get(key, 0) + 1
        prompt = next((m["content"] for m in reversed(t.messages) if m["role"] == "user"), "")
        if t.domain == "web":
            prompt = prompt.splitlines()[0] if prompt else ""
        if t.kind == "harmful" and len(prompt) > HARMFUL_PROMPT_CHARS:
            prompt = prompt[:HARMFUL_PROMPT_CHARS] + "…"
        response = t.response if len(t.response) < 500 else t.response[:500] + "…"
        if t.steps:
            actions = [s.get("action") or "(no action)" for s in t.steps]
            response = f"{len(t.steps)} steps: " + " → ".join(actions)[:500]
        v = t.verdict
        verdict = "refused" if v and v.refused else "complied"
        if v and v.success is not None:
            verdict += ", success" if v.success else ", failed"
        if v and v.harmful_done:
            verdict += ", harm done"
        rows.append(
            [t.task_id, t.domain, t.kind, prompt, Html(f"<pre>{esc(response)}</pre>"), verdict]
        )
    return rows


def eval_report(runs: Sequence[EvalRun], title: str = "neutrophil evaluation") -> str:
    first = runs[0].metrics
    parts = [
        f"<p class='muted'>model <b>{esc(first['model'])}</b> · {first['tasks']} tasks per run · "
        "rates with 95% Wilson intervals</p>",
        section(
            "Headline rates",
            table(["defense", *RATE_LABELS.values()], headline_rows(runs)),
            rate_figure(runs),
        ),
    ]
    if len(runs) > 1:
        parts.append(
            section(
                "Paired differences (same tasks)",
                "<p class='muted'>rate of the defense minus rate of the first row, matched "
                "task by task: Agresti–Min 95% interval, exact McNemar p (* p &lt; 0.05).</p>",
                table(["comparison", *(RATE_LABELS[n] for n in PAIRED_RATES)], paired_rows(runs)),
            )
        )
    cost_rows = [
        [
            run.label,
            run.metrics["cost"].get("prompt_tokens", 0),
            run.metrics["cost"].get("generated_tokens", 0),
            run.metrics["cost"].get("seconds", 0),
        ]
        for run in runs
    ]
    parts.append(
        section(
            "Cost",
            table(
                ["defense", "prompt tokens", "generated tokens", "seconds"],
                cost_rows,
                [False, True, True, True],
            ),
        )
    )
    for run in runs:
        parts.append(
            section(
                f"Example transcripts — {run.label}",
                f"<p class='muted'>defense: <code>{esc(run.metrics['defense'])}</code>; "
                "harmful prompts truncated.</p>",
                table(
                    ["task", "domain", "kind", "prompt", "response", "verdict"],
                    example_rows(run.transcripts),
                ),
            )
        )
    return page(title, parts)
