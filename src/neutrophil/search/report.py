"""`report.html` of an optimize run: every candidate, the Pareto frontier, the baselines,
the chosen prefix and what the search cost, in one self-contained file."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from neutrophil.metrics import short_labels
from neutrophil.report.html import esc, page, png, section, table

RATES = (
    ("refusal_rate", "RR (harmful refused)"),
    ("success_rate", "SR (benign succeeded)"),
    ("borderline_refusal_rate", "borderline refusal"),
    ("over_refusal_rate", "over-refusal (all benign)"),
    ("attack_success_rate", "ASR (harmful carried out)"),
)


def pareto(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points not dominated in (SR, RR), sorted by SR."""
    front = [p for p in points if not any(q[0] >= p[0] and q[1] >= p[1] and q != p for q in points)]
    return sorted(set(front))


def _fmt_rate(d: dict[str, Any]) -> str:
    if not d or d.get("n", 0) == 0 or d.get("value") is None:
        return "n/a"
    return f"{100 * d['value']:.0f}% [{100 * d['lo']:.0f}, {100 * d['hi']:.0f}] n={d['n']}"


def scatter(
    history: Sequence[dict[str, Any]], baselines: Sequence[tuple[str, dict[str, Any]]], best: str
):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5.5))
    if history:
        sc = ax.scatter(
            [h["sr"] for h in history],
            [h["rr"] for h in history],
            c=[h["round"] for h in history],
            cmap="viridis",
            s=[40 if h["complete"] else 14 for h in history],
            alpha=0.8,
            label="candidates (small: dropped by racing)",
        )
        fig.colorbar(sc, ax=ax, label="round")
        front = pareto([(h["sr"], h["rr"]) for h in history if h["complete"]])
        if front:
            ax.step(
                [p[0] for p in front],
                [p[1] for p in front],
                where="post",
                color="tab:red",
                lw=1.2,
                label="Pareto frontier",
            )
        for h in history:
            if h.get("best"):
                ax.scatter(
                    [h["sr"]],
                    [h["rr"]],
                    marker="*",
                    s=320,
                    color="gold",
                    edgecolor="black",
                    zorder=5,
                    label="chosen prefix",
                )
    markers = "sDv^P"
    for (label, m), mk in zip(baselines, markers, strict=False):
        r = m["rates"]
        if r["success_rate"]["value"] is None or r["refusal_rate"]["value"] is None:
            continue
        ax.scatter(
            [r["success_rate"]["value"]],
            [r["refusal_rate"]["value"]],
            marker=mk,
            s=70,
            facecolor="none",
            edgecolor="black",
        )
        ax.annotate(
            f"{label} (test)",
            (r["success_rate"]["value"], r["refusal_rate"]["value"]),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.set_xlabel("SR: benign tasks succeeded")
    ax.set_ylabel("RR: harmful tasks refused")
    ax.set_xlim(-0.03, 1.03)
    ax.set_ylim(-0.03, 1.03)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title("Candidates on the selection split; baselines on the test split")
    return fig


# The held-out comparison's columns: each defense minus no defense, paired on the same tasks.
PAIRED_COLUMNS = short_labels(
    "refusal_rate", "attack_success_rate", "success_rate", "over_refusal_rate"
)


def _paired_rows(baselines: Sequence[tuple[str, dict[str, Any]]]) -> list[list[str]]:
    rows = []
    for label, m in baselines[1:]:
        p = m.get("paired_vs_first", {})
        cells = []
        for key, _ in PAIRED_COLUMNS:
            d = p.get(key)
            if not d or not d["n"]:
                cells.append("n/a")
                continue
            star = "*" if d["mcnemar_p"] < 0.05 else ""
            cells.append(
                f"{100 * d['diff']:+.0f} [{100 * d['lo']:+.0f}, {100 * d['hi']:+.0f}] "
                f"p={d['mcnemar_p']:.2g}{star} n={d['n']}"
            )
        rows.append([label, *cells])
    return rows


def render(
    *,
    model: str,
    best: str,
    objective: str,
    history: Sequence[dict[str, Any]],
    baselines: Sequence[tuple[str, dict[str, Any]]],
    cost: dict[str, Any],
    command: str,
) -> str:
    rows = [
        [label] + [_fmt_rate(m["rates"].get(k, {})) for k, _ in RATES] for label, m in baselines
    ]
    top = sorted(history, key=lambda h: (-h["score"], h["round"]))[:15]
    cand_rows = [
        [
            h["round"],
            f"{h['score']:.2f}",
            f"{h['sr']:.2f}",
            f"{h['rr']:.2f}",
            h["n"],
            "" if h["complete"] else f"dropped at {h['dropped_at']}",
            h["prefix"],
        ]
        for h in top
    ]
    sections = [
        section(
            "Chosen prefix",
            f"<pre>{esc(best) or '(none: no candidate finished)'}</pre>",
            f"<p class='muted'>model {esc(model)} · objective {esc(objective)} · {len(history)} candidates</p>",
        ),
        section(
            "Held-out test split (95% Wilson CIs)",
            table(["defense"] + [lbl for _, lbl in RATES], rows),
        ),
        section(
            f"Paired against {baselines[0][0] if baselines else 'the first row'} (same tasks)",
            "<p class='muted'>difference of rates, Agresti–Min 95% interval, exact McNemar "
            "p (* p &lt; 0.05), n = tasks the rate is read on.</p>",
            table(["defense", *(label for _, label in PAIRED_COLUMNS)], _paired_rows(baselines)),
        ),
        section("Search", png(scatter(history, baselines, best))),
        section(
            "Top candidates (selection split)",
            table(["round", "score", "SR", "RR", "n", "racing", "prefix"], cand_rows),
        ),
        section("Cost", table(list(cost), [list(cost.values())]), f"<pre>{esc(command)}</pre>"),
    ]
    return page("neutrophil optimize — PING prefix search", sections)
