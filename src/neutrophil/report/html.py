"""Building blocks for self-contained HTML reports: one file, plots inlined (matplotlib
figures as PNG, `report/svg.py`'s charts as SVG)."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import Any

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1em;color:#1d1d1f;line-height:1.45}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:1em 0;font-size:.92em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:left;vertical-align:top}
th{background:#f5f5f7}td.num{text-align:right;font-variant-numeric:tabular-nums}
pre{background:#f5f5f7;padding:.6em;white-space:pre-wrap;word-break:break-word;font-size:.85em}
.muted{color:#6e6e73}img,svg{max-width:100%;height:auto}
"""


class Html(str):
    """Markup built here from escaped parts; `table` inserts it as it is. Every other
    cell is text and is escaped exactly once (model output can start with `<`)."""


def esc(text: Any) -> str:
    return html.escape(str(text))


def page(title: str, sections: Sequence[str]) -> str:
    body = "\n".join(sections)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(title)}</title>"
        f"<style>{CSS}</style></head><body><h1>{esc(title)}</h1>\n{body}\n</body></html>"
    )


def png(fig) -> str:
    """Render a matplotlib figure as an inline <img> and close it."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return f"<img alt='plot' src='data:image/png;base64,{data}'>"


def table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[bool] = ()
) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cls = " class='num'" if i < len(numeric) and numeric[i] else ""
            cells.append(f"<td{cls}>{cell if isinstance(cell, Html) else esc(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def section(title: str, *parts: str) -> str:
    return f"<h2>{esc(title)}</h2>\n" + "\n".join(parts)
