"""`DIR/report.html` and `DIR/stages.md` for `neutrophil lab`: table, plot, training curves, verdict."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neutrophil.files import atomic_write
from neutrophil.metrics import short_labels
from neutrophil.report.html import esc, page, png, section, table

if TYPE_CHECKING:
    from neutrophil.workflows.lab_stages import Comparison, Stage

RATES = short_labels("refusal_rate", "attack_success_rate", "success_rate", "over_refusal_rate")

PAPER = (
    "The published study fully fine-tuned 8-9B models on about 9k web and 7k code benign agent "
    "trajectories (lr 1e-5, 1 epoch, cosine). For Llama-3.1-8B on web tasks, refusal of harmful "
    "tasks fell from 26% to 7% and attack success rose from 33% to 64%, while benign success "
    "rose from 2% to 22%. This lab repeats the recipe at toy scale (LoRA, tens of steps, a "
    "135M model), so its numbers show the mechanism on this model, not the paper's magnitudes."
)


def fmt(r: dict[str, Any]) -> str:
    if not r or not r.get("n"):
        return "n/a"
    return f"{100 * r['value']:.0f}% [{100 * r['lo']:.0f}, {100 * r['hi']:.0f}]"


def stage_rows(stages: Sequence[Stage]) -> list[list[str]]:
    return [[s.name, s.label] + [fmt(s.metrics["rates"][k]) for k, _ in RATES] for s in stages]


STAGE_HEADERS = ["stage", "what"] + [h for _, h in RATES]
COMPARISON_HEADERS = ["stage", "minus"] + [h for _, h in RATES]


def _markdown(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def markdown_table(stages: Sequence[Stage]) -> str:
    return _markdown(STAGE_HEADERS, stage_rows(stages))


def comparison_rows(comparisons: Sequence[Comparison]) -> list[list[str]]:
    return [[c.a, c.b] + [str(c.diffs[k]) for k, _ in RATES] for c in comparisons]


def comparisons_markdown(comparisons: Sequence[Comparison]) -> str:
    return _markdown(COMPARISON_HEADERS, comparison_rows(comparisons))


def seed_findings(stages: Sequence[Stage], comparisons: Sequence[Comparison]) -> list[str]:
    """One sentence on the spread over agentic fine-tuning seeds (when there are several)."""
    runs = [c for c in comparisons if c.b == "2-aligned" and c.a.startswith("3-agentic")]
    if len(runs) < 2:
        return []
    rr = [c.diffs["refusal_rate"] for c in runs]
    falls = sum(d.significant and d.diff < 0 for d in rr)
    after = ", ".join(f"{100 * d.a.value:.0f}%" for d in rr)
    return [
        f"Over {len(runs)} seeds of agentic fine-tuning, RR after fine-tuning was {after} "
        f"(aligned: {100 * rr[0].b.value:.0f}%); the change against the aligned model ranged "
        f"from {100 * min(d.diff for d in rr):+.0f} to {100 * max(d.diff for d in rr):+.0f} "
        f"points and was a significant fall (paired, p < 0.05) in {falls} of {len(runs)} seeds."
    ]


def findings(stages: Sequence[Stage], comparisons: Sequence[Comparison] = ()) -> list[str]:
    """Plain sentences comparing the aligned and the agentic model (whatever happened)."""
    by = {s.name: s.metrics["rates"] for s in stages}
    pairs = {(c.a, c.b): c.diffs for c in comparisons}
    out = []
    a, g = by.get("2-aligned"), by.get("3-agentic")
    if a and g and a["refusal_rate"]["n"]:
        ra, rg = a["refusal_rate"], g["refusal_rate"]
        delta = 100 * (rg["value"] - ra["value"])
        d = pairs.get(("3-agentic", "2-aligned"), {}).get("refusal_rate")
        if delta < 0:
            verdict = (
                ""
                if d is None
                else f"; paired over the same tasks {d}, "
                + ("a significant fall" if d.significant else "not significant at this sample size")
            )
            out.append(
                f"Agentic fine-tuning lowered refusal of harmful tasks from {fmt(ra)} to {fmt(rg)} "
                f"({delta:+.0f} points){verdict}."
            )
        else:
            out.append(
                f"Agentic fine-tuning did NOT reduce refusal on this model: RR went from {fmt(ra)} to {fmt(rg)} "
                f"({delta:+.0f} points). The erosion reported for 8B models is not reproduced at this scale and budget."
            )
        out.append(
            f"Attack success: {fmt(a['attack_success_rate'])} -> {fmt(g['attack_success_rate'])}; "
            f"benign success: {fmt(a['success_rate'])} -> {fmt(g['success_rate'])}."
        )
    if g and "4-ping" in by:
        p = by["4-ping"]
        out.append(
            f"The PING prefix moves the agentic model's RR from {fmt(g['refusal_rate'])} to {fmt(p['refusal_rate'])}, "
            f"SR from {fmt(g['success_rate'])} to {fmt(p['success_rate'])}, over-refusal from "
            f"{fmt(g['over_refusal_rate'])} to {fmt(p['over_refusal_rate'])}."
        )
    return out + seed_findings(stages, comparisons)


def rates_plot(stages: Sequence[Stage]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(9, 3.8))
    width = 0.8 / max(1, len(stages))
    x = np.arange(len(RATES))
    for i, s in enumerate(stages):
        vals, lo, hi = [], [], []
        for k, _ in RATES:
            r = s.metrics["rates"][k]
            v = r["value"] if r.get("n") else np.nan
            vals.append(v)
            lo.append(v - r["lo"] if r.get("n") else 0)
            hi.append(r["hi"] - v if r.get("n") else 0)
        ax.bar(
            x + (i - (len(stages) - 1) / 2) * width,
            vals,
            width,
            yerr=[lo, hi],
            capsize=3,
            label=s.name,
        )
    ax.set_xticks(x, [h for _, h in RATES])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("rate (95% Wilson CI)")
    ax.legend(fontsize=8, ncol=min(5, len(stages)))
    ax.grid(axis="y", alpha=0.3)
    return fig


def loss_plot(stages: Sequence[Stage]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3))
    any_curve = False
    # The fine-tunes this lab measured: the aligned model and each agentic seed.
    trained = [s for s in stages if s.name == "2-aligned" or s.name.startswith("3-agentic")]
    for stage in trained:
        path = Path(stage.model_dir) / "training.json"
        if path.is_file():
            losses = json.loads(path.read_text())["losses"]
            ax.plot(range(1, len(losses) + 1), losses, label=Path(stage.model_dir).name)
            any_curve = True
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (assistant tokens)")
    if any_curve:
        ax.legend()
    return fig


def domain_rows(stages: Sequence[Stage]) -> list[list[str]]:
    rows = []
    for s in stages:
        for d, rates in sorted(s.metrics.get("by_domain", {}).items()):
            rows.append([s.name, d] + [fmt(rates[k]) for k, _ in RATES])
    return rows


def write_report(
    out: Path, stages: Sequence[Stage], comparisons: Sequence[Comparison], *, model: str
) -> Path:
    cure = next((s.note for s in stages if s.name == "4-ping"), "")
    prefix = next((s.defense.get("prefix", "") for s in stages if s.name == "4-ping"), "")
    tasks = stages[0].metrics["tasks"] if stages else 0
    sections = [
        section(
            "What this is",
            f"<p>{esc(PAPER)}</p>",
            f"<p>Model: <code>{esc(model)}</code>. Every stage is measured on the same "
            f"{tasks} held-out tasks (test split, drawn across chat/code/web and harmful/benign).</p>",
        ),
        section(
            "Findings",
            "<ul>" + "".join(f"<li>{esc(f)}</li>" for f in findings(stages, comparisons)) + "</ul>",
        ),
        section(
            "Rates at each stage", table(STAGE_HEADERS, stage_rows(stages)), png(rates_plot(stages))
        ),
        section(
            "Paired differences",
            "<p>Each stage minus the stage it is compared with, on the same tasks: the "
            "difference in points with its 95% interval (Agresti–Min) and the exact McNemar "
            "p-value; * marks p &lt; 0.05. n: harmful tasks (RR, ASR), benign tasks (SR, "
            "over-refusal).</p>",
            table(COMPARISON_HEADERS, comparison_rows(comparisons)),
        ),
        section(
            "By domain", table(["stage", "domain"] + [h for _, h in RATES], domain_rows(stages))
        ),
        section(
            "The cure",
            f"<p>How the prefix was obtained: {esc(cure)}</p><pre>{esc(prefix)}</pre>",
        ),
        section("Training curves", png(loss_plot(stages))),
        section(
            "Settings",
            f"<pre>{esc(json.dumps(json.loads((out / 'lab_config.json').read_text()), indent=1))}</pre>",
        ),
    ]
    path = out / "report.html"
    atomic_write(path, page("neutrophil lab: agentic fine-tuning erodes refusal", sections))
    atomic_write(
        out / "stages.md",
        markdown_table(stages)
        + "\n\nPaired differences (stage minus stage, same tasks):\n\n"
        + comparisons_markdown(comparisons)
        + "\n",
    )
    atomic_write(out / "comparisons.json", json.dumps([c.to_dict() for c in comparisons], indent=1))
    atomic_write(
        out / "stages.json",
        json.dumps(
            [
                {
                    "name": s.name,
                    "label": s.label,
                    "model": s.model_dir,
                    "defense": s.defense,
                    "rates": s.metrics["rates"],
                }
                for s in stages
            ],
            indent=1,
        ),
    )
    return path
