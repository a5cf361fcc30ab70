"""Self-contained HTML report for a probe study (matplotlib PNGs inlined as base64)."""

from __future__ import annotations

import base64
import html
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

_SEG_COLORS = {"prompt": "#f2f2f2", "header": "#dbe9f6", "prefix": "#fde2c8"}


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def layer_plot(result: dict) -> str:
    layers = [r["layer"] for r in result["layers"]]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.plot(layers, [r["accuracy"] for r in result["layers"]], "o-", label="accuracy")
    ax.plot(layers, [r["auroc"] for r in result["layers"]], "s-", label="AUROC")
    ax.axvline(result["best_layer"], color="grey", ls=":", lw=1)
    ax.set_xlabel("layer (output of decoder block N)")
    ax.set_ylim(0.4, 1.02)
    ax.set_title("harmful vs benign probe, test split")
    ax.legend()
    return _png(fig)


def scan_plot(result: dict) -> str:
    scans = result["scan"]
    fig, ax = plt.subplots(figsize=(9, 3.6))
    for row in scans:
        n = len(row["logit"])
        # Align rows at their last token; the first token is left out: its activation is an
        # attention-sink outlier whose logit (hundreds) would flatten everything else.
        x = range(-n + 2, 1)
        ax.plot(
            x,
            row["logit"][1:],
            color="#c0392b" if row["kind"] == "harmful" else "#2471a3",
            alpha=0.6,
            lw=1,
        )
    if scans:
        ref = scans[0]
        n = len(ref["segment"])
        for seg, color in _SEG_COLORS.items():
            idx = [i - n + 1 for i, s in enumerate(ref["segment"]) if s == seg]
            if idx and seg != "prompt":
                ax.axvspan(min(idx) - 0.5, max(idx) + 0.5, color=color, alpha=0.6, label=seg)
    ax.axhline(0, color="black", lw=0.5)
    ax.set_xlabel(
        "token position (0 = last prefix token; first token left out); red = harmful, blue = benign"
    )
    ax.set_ylabel("probe logit")
    ax.set_title(f"position scan, layer {result['scan_layer']}")
    ax.legend(loc="upper left")
    return _png(fig)


def placement_plot(result: dict) -> str:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    conds = ["none", "prefix", "suffix"]
    width = 0.38
    for k, (kind, color) in enumerate((("harmful", "#c0392b"), ("benign", "#2471a3"))):
        if kind in result["placement"]:
            vals = [result["placement"][kind][c]["mean_logit"] for c in conds]
            ax.bar([i + (k - 0.5) * width for i in range(3)], vals, width, color=color, label=kind)
    ax.set_xticks(range(3), ["no defense", "prefix (assistant)", "suffix (user)"])
    ax.axhline(0, color="black", lw=0.5)
    ax.set_ylabel("mean final-token probe logit")
    ax.legend()
    return _png(fig)


def render_html(result: dict, model_name: str) -> str:
    rows = "".join(
        f"<tr><td>{r['layer']}</td><td>{r['accuracy']:.3f}</td><td>{r['auroc']:.3f}</td></tr>"
        for r in result["layers"]
    )
    place = ""
    for kind, d in result["placement"].items():
        for cond, v in d.items():
            place += f"<tr><td>{kind}</td><td>{cond}</td><td>{v['mean_logit']:.3f}</td><td>{v['flagged']:.2f}</td></tr>"
    esc = html.escape
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>neutrophil probe: {esc(model_name)}</title>
<style>body{{font-family:sans-serif;max-width:980px;margin:2em auto}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}</style></head><body>
<h1>Probe study: {esc(model_name)}</h1>
<p>Train {result["n_train"]} / test {result["n_test"]} tasks. Layer N = output of decoder block N.
Best layer by AUROC: <b>{result["best_layer"]}</b>; scan layer {result["scan_layer"]}.
Prefix: <code>{esc(result["prefix"])}</code></p>
<h2>Per-layer probes</h2><img src="{layer_plot(result)}">
<table><tr><th>layer</th><th>accuracy</th><th>AUROC</th></tr>{rows}</table>
<h2>Position scan</h2><img src="{scan_plot(result)}">
<h2>Prefix vs suffix (final token)</h2><img src="{placement_plot(result)}">
<table><tr><th>kind</th><th>placement</th><th>mean logit</th><th>flagged</th></tr>{place}</table>
</body></html>"""
