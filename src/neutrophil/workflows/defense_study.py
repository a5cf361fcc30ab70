"""Gated defenses vs the static prefix vs unconditional steering, on the same held-out tasks.

`run_defense_study` runs five defenses through the harness (`Agent`) on one task list:
no defense, the static prefix, unconditional refusal steering, gated steering and the
gated prefix (the gated prefix injects the same text as the static prefix, so the two
differ only by the gate). It reports RR, SR, over-refusal, borderline refusal and ASR
with Wilson 95% CIs, the gate's ROC on the tasks (harmful = positive; benign includes
the borderline look-alikes), and RR/SR against the gate threshold.

The threshold sweep needs no extra generation: for single-turn tasks a gated defense
gives each row exactly what the ungated run gives it when the gate fires, and what no
defense gives it when it does not (greedy decoding, rows independent). So each
threshold's outcome is composed from the `none`, `prefix` and `steer` runs; the real
gated runs at the gate's own threshold check that composition (`composition_agreement`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from neutrophil.files import atomic_path
from neutrophil.metrics import percent_cell, rates, short_labels
from neutrophil.records import Transcript
from neutrophil.tasks.task import Task

RATE_KEYS = short_labels(
    "refusal_rate",
    "success_rate",
    "over_refusal_rate",
    "borderline_refusal_rate",
    "attack_success_rate",
)
PAIRED_KEYS = short_labels(
    "refusal_rate", "attack_success_rate", "success_rate", "over_refusal_rate"
)


@dataclass(frozen=True)
class Arm:
    """One defense of the study: its label and its transcripts on the tasks."""

    label: str
    defense: dict[str, Any]
    transcripts: tuple[Transcript, ...]
    seconds: float


def gate_scores(backend, gate, tasks: Sequence[Task]) -> np.ndarray:
    """The gate's logit per task, read where the gated defenses read it."""
    from neutrophil.models.base import require_local, user_message

    local = require_local(backend, "a gate")
    texts = [local.render(user_message(t.prompt, t.system), "") for t in tasks]
    return gate.scores(local.model, local.tokenizer, texts)


def _rates_dict(transcripts: Sequence[Transcript]) -> dict[str, dict]:
    return {k: r.to_dict() for k, r in rates(transcripts).items()}


def compose(
    flags: np.ndarray, when_flagged: Sequence[Transcript], otherwise: Sequence[Transcript]
) -> list[Transcript]:
    """Per row: the flagged arm's transcript where the gate fires, else the other one."""
    return [a if f else b for f, a, b in zip(flags, when_flagged, otherwise, strict=True)]


def roc(scores: np.ndarray, harmful: np.ndarray) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score, roc_curve

    if len(set(harmful.tolist())) < 2:
        return {"auroc": None, "fpr": [], "tpr": [], "thresholds": []}
    fpr, tpr, thr = roc_curve(harmful.astype(int), scores)
    return {
        "auroc": float(roc_auc_score(harmful.astype(int), scores)),
        "fpr": fpr.tolist(),
        "tpr": tpr.tolist(),
        "thresholds": [float(t) if np.isfinite(t) else None for t in thr],
    }


def sweep_thresholds(scores: np.ndarray, gate_threshold: float, n: int = 9) -> list[float]:
    """The gate's own threshold plus quantiles of the scores (and both extremes)."""
    qs = np.quantile(scores, np.linspace(0.0, 1.0, n))
    ts = {round(float(q), 4) for q in qs} | {round(gate_threshold, 4)}
    ts |= {round(float(scores.min()) - 1.0, 4), round(float(scores.max()) + 1.0, 4)}
    return sorted(ts)


def run_defense_study(
    backend,
    tasks: Sequence[Task],
    *,
    prefix: str,
    prefix_label: str = "static prefix",
    strength: float | None = None,
    judge=None,
    progress: Callable[[str], None] = lambda _m: None,
    store: Path | None = None,
) -> tuple[dict[str, Any], dict[str, Arm]]:
    """Run the five defenses on `tasks` (chat/code): (the study as a JSON-able dict, the
    arms with their transcripts). With `store`, each arm is a run directory
    `store/<arm>/` whose rows are persisted as they are judged and reused on a rerun."""
    from neutrophil.agent import Agent
    from neutrophil.defenses.base import NO_DEFENSE, PromptDefense
    from neutrophil.defenses.steering import (
        DEFAULT_STRENGTH,
        GatedPrefixDefense,
        GatedSteerDefense,
        SteerDefense,
        default_for,
    )
    from neutrophil.evaluation import run_persisted

    if any(t.domain == "web" for t in tasks):
        raise ValueError("the defense study runs single-turn tasks (chat, code), not web")
    if judge is None:
        from neutrophil.judges import default_judge

        judge = default_judge()
    strength = DEFAULT_STRENGTH if strength is None else strength
    progress("fitting (or loading) the refusal vector and the gate")
    fitted = default_for(backend)
    gate = fitted.gate
    defenses = {
        "none": NO_DEFENSE,
        "prefix": PromptDefense(name="prefix", prefix=prefix),
        "steer": SteerDefense(fitted.vector, strength),
        "gated-steer": GatedSteerDefense(fitted.vector, gate, strength),
        "gated-prefix": GatedPrefixDefense(gate, prefix),
    }
    arms: dict[str, Arm] = {}
    for name, d in defenses.items():
        progress(f"running {name} on {len(tasks)} tasks")
        agent = Agent(backend, d, judge=judge)
        run_dir = store / name if store is not None else None
        transcripts, cost = run_persisted(agent, tasks, run_dir, label=name, progress=False)
        # cost.seconds adds up the time (generation and judging) of every run that filled
        # the store, so a rerun that reads the rows back keeps the arm's real cost.
        arms[name] = Arm(name, d.describe(), tuple(transcripts), cost.seconds)

    scores = gate_scores(backend, gate, tasks)
    harmful = np.array([t.kind == "harmful" for t in tasks])
    border = np.array([t.kind == "benign" and "borderline" in t.tags for t in tasks])
    flags = scores > gate.threshold
    sweep = []
    for thr in sweep_thresholds(scores, gate.threshold):
        f = scores > thr
        row: dict[str, Any] = {
            "threshold": thr,
            "flagged_harmful": float(f[harmful].mean()) if harmful.any() else None,
            "flagged_benign": float(f[~harmful].mean()) if (~harmful).any() else None,
        }
        for arm, ungated in (("gated-steer", "steer"), ("gated-prefix", "prefix")):
            row[arm] = _rates_dict(compose(f, arms[ungated].transcripts, arms["none"].transcripts))
        sweep.append(row)
    agreement = {}
    for arm, ungated in (("gated-steer", "steer"), ("gated-prefix", "prefix")):
        composed = compose(flags, arms[ungated].transcripts, arms["none"].transcripts)
        same = [
            a.verdict.refused == b.verdict.refused
            for a, b in zip(composed, arms[arm].transcripts, strict=True)
        ]
        agreement[arm] = float(np.mean(same))
    b_roc = roc(scores[harmful | border], harmful[harmful | border])
    study = {
        "model": backend.name,
        "tasks": len(tasks),
        "n_harmful": int(harmful.sum()),
        "n_benign": int((~harmful).sum()),
        "n_borderline": int(border.sum()),
        "prefix": prefix,
        "prefix_label": prefix_label,
        "strength": strength,
        "gate": {"layer": gate.layer, "threshold": gate.threshold, "kind": gate.kind},
        "steer_layers": list(fitted.vector.layers),
        "arms": {
            k: {
                "defense": a.defense,
                "seconds": round(a.seconds, 1),
                "rates": _rates_dict(a.transcripts),
            }
            for k, a in arms.items()
        },
        "gate_scores": scores.tolist(),
        "roc": roc(scores, harmful),
        "roc_borderline": {"auroc": b_roc["auroc"]},
        "gate_flags": {
            "harmful": float(flags[harmful].mean()) if harmful.any() else None,
            "benign": float(flags[~harmful].mean()) if (~harmful).any() else None,
            "borderline": float(flags[border].mean()) if border.any() else None,
        },
        "sweep": sweep,
        "composition_agreement": agreement,
        "paired": paired_against(arms, ("none", "prefix")),
    }
    return study, arms


def paired_against(arms: dict[str, Arm], references: Sequence[str]) -> list[dict[str, Any]]:
    """Each arm minus each reference, task by task (`neutrophil.paired`); a pair already
    made the other way round (prefix − none, so not none − prefix) is left out."""
    from neutrophil.paired import compare_dict

    rows = []
    for i, ref in enumerate(references):
        for name, arm in arms.items():
            if name == ref or name in references[:i] or ref not in arms:
                continue
            diffs = compare_dict(arm.transcripts, arms[ref].transcripts)
            rows.append({"arm": name, "reference": ref, **diffs})
    return rows


# -- report --------------------------------------------------------------------------------
LABELS = {
    "none": "no defense",
    "prefix": "static prefix",
    "steer": "steering (unconditional)",
    "gated-steer": "gated steering",
    "gated-prefix": "gated prefix",
}


def _label(study: dict, arm: str) -> str:
    if arm == "prefix":
        return study.get("prefix_label", LABELS[arm])
    return LABELS.get(arm, arm)


def markdown_table(study: dict) -> str:
    head = "| defense | " + " | ".join(lbl for _, lbl in RATE_KEYS) + " | seconds |"
    lines = [head, "|---" * (len(RATE_KEYS) + 2) + "|"]
    for k, arm in study["arms"].items():
        label = _label(study, k)
        cells = " | ".join(percent_cell(arm["rates"][key]) for key, _ in RATE_KEYS)
        lines.append(f"| {label} | {cells} | {arm['seconds']:.0f} |")
    return "\n".join(lines)


def paired_table(study: dict) -> str:
    from neutrophil.paired import PairedDiff

    head = "| defense | minus | " + " | ".join(lbl for _, lbl in PAIRED_KEYS) + " |"
    lines = [head, "|---" * (len(PAIRED_KEYS) + 2) + "|"]
    for row in study.get("paired", []):
        cells = " | ".join(str(PairedDiff.from_dict(row[key])) for key, _ in PAIRED_KEYS)
        lines.append(
            f"| {_label(study, row['arm'])} | {_label(study, row['reference'])} | {cells} |"
        )
    return "\n".join(lines)


def sweep_table(study: dict) -> str:
    lines = [
        "| threshold | flagged harmful | flagged benign | gated-steer RR | gated-steer SR "
        "| gated-prefix RR | gated-prefix SR |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in study["sweep"]:
        pct = lambda v: "n/a" if v is None else f"{100 * v:.0f}%"  # noqa: E731
        gs, gp = r["gated-steer"], r["gated-prefix"]
        lines.append(
            f"| {r['threshold']:+.2f} | {pct(r['flagged_harmful'])} | {pct(r['flagged_benign'])} "
            f"| {pct(gs['refusal_rate']['value'])} | {pct(gs['success_rate']['value'])} "
            f"| {pct(gp['refusal_rate']['value'])} | {pct(gp['success_rate']['value'])} |"
        )
    return "\n".join(lines)


def markdown_report(study: dict, command: str = "") -> str:
    g = study["gate"]
    auc = study["roc"]["auroc"]
    bauc = study["roc_borderline"]["auroc"]
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    flags = study["gate_flags"]
    agree = ", ".join(f"{k} {100 * v:.0f}%" for k, v in study["composition_agreement"].items())
    parts = [
        f"Model `{study['model']}`, {study['tasks']} held-out tasks ({study['n_harmful']} harmful, "
        f"{study['n_benign']} benign of which {study['n_borderline']} borderline). "
        f"Steering: refusal vector at strength {study['strength']:g} (calibrated units) on "
        f"layers {study['steer_layers'][0]}-{study['steer_layers'][-1]}. Gate: {g['kind']} "
        f"at layer {g['layer']}, threshold {g['threshold']:+.2f}. Prefix: "
        f"`{study['prefix'].strip()}`",
    ]
    if command:
        parts.append(f"\nCommand: `{command}`")
    parts += [
        "\nRates with Wilson 95% CIs (over-refusal: all benign tasks; borderline refusal: the "
        "benign look-alikes only):\n",
        markdown_table(study),
    ]
    if study.get("paired"):  # studies written before paired tests have none
        parts += [
            "\nPaired differences on the same tasks (points, Agresti–Min 95% interval, exact "
            "McNemar p; * marks p < 0.05; n: harmful tasks for RR and ASR, benign for the "
            "rest):\n",
            paired_table(study),
        ]
    parts += [
        f"\nGate on these tasks: AUROC {fmt(auc)} (harmful vs all benign), {fmt(bauc)} "
        f"(harmful vs borderline only); at its threshold it flags "
        f"{100 * (flags['harmful'] or 0):.0f}% of harmful, {100 * (flags['benign'] or 0):.0f}% "
        f"of benign and {100 * (flags['borderline'] or 0):.0f}% of borderline tasks.",
        "\nRR/SR against the gate threshold (composed from the ungated runs; the real gated "
        f"runs at the gate's threshold agree with the composition on refusals: {agree}):\n",
        sweep_table(study),
    ]
    return "\n".join(parts) + "\n"


def plots(study: dict, out_dir) -> list[str]:
    """roc.png and threshold.png in `out_dir`; returns their file names."""
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    r = study["roc"]
    fig, ax = plt.subplots(figsize=(4, 4))
    ax.plot(r["fpr"], r["tpr"], "o-", ms=3, label=f"AUROC {r['auroc'] or float('nan'):.3f}")
    ax.plot([0, 1], [0, 1], color="grey", lw=0.5, ls=":")
    ax.set_xlabel("benign flagged (FPR)")
    ax.set_ylabel("harmful flagged (TPR)")
    ax.set_title(f"gate ROC (layer {study['gate']['layer']}), test split")
    ax.legend(loc="lower right")
    with atomic_path(out / "roc.png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 3.4))
    thr = [s["threshold"] for s in study["sweep"]]
    for arm, color in (("gated-steer", "#8e44ad"), ("gated-prefix", "#d35400")):
        rr = [s[arm]["refusal_rate"]["value"] for s in study["sweep"]]
        sr = [s[arm]["success_rate"]["value"] for s in study["sweep"]]
        ax.plot(thr, rr, "o-", color=color, label=f"{arm} RR")
        ax.plot(thr, sr, "s--", color=color, label=f"{arm} SR")
    ax.axvline(study["gate"]["threshold"], color="grey", ls=":", lw=1)
    ax.set_xlabel("gate threshold (logit; rows above it are defended)")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=8, ncol=2)
    ax.set_title("RR and SR against the gate threshold")
    with atomic_path(out / "threshold.png") as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return ["roc.png", "threshold.png"]
