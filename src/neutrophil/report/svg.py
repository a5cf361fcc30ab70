"""Rates with their 95% intervals as an inline SVG bar chart: one panel per rate, a group
of bars per domain, one colour per run.

Written by hand rather than with matplotlib because `neutrophil eval` draws it on every
run: importing and rendering through matplotlib took about 1 s of a 14 s evaluation of 40
tasks (docs/benchmarks.md). Every bar carries its rate as a tooltip.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from neutrophil.metrics import Rate
from neutrophil.report.html import Html, esc

# matplotlib's default colour cycle, so these charts look like the reports' other plots.
COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
COLUMNS = 4
PANEL_W, PANEL_H = 260, 190
LEFT, RIGHT, TOP, BOTTOM = 34, 8, 24, 26  # margins of each panel's plot area
PLOT_W, PLOT_H = PANEL_W - LEFT - RIGHT, PANEL_H - TOP - BOTTOM


def bar_y(value: float) -> float:
    """The SVG y of a rate (0 at the plot's bottom, 1 at its top)."""
    return TOP + (1 - value) * PLOT_H


def rate_panels(
    titles: Mapping[str, str],
    groups: Sequence[str],
    series: Sequence[tuple[str, Mapping[str, Mapping[str, Rate]]]],
) -> Html:
    """`titles`: rate name -> panel title; `groups`: the bar groups (domains) in order;
    `series`: (label, {group: {rate name: Rate}}) per run. A rate with n = 0 has no bar."""
    cells = len(titles) + 1  # the legend takes the last cell
    rows = -(-cells // COLUMNS)
    width, height = COLUMNS * PANEL_W, rows * PANEL_H
    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' role='img' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' font-family='sans-serif' font-size='10'>"
    ]
    slot = PLOT_W / max(1, len(groups))
    bar = 0.8 * slot / max(1, len(series))
    for k, (name, title) in enumerate(titles.items()):
        out.append(f"<g transform='translate({k % COLUMNS * PANEL_W},{k // COLUMNS * PANEL_H})'>")
        out.append(f"<text x='{LEFT + PLOT_W / 2}' y='14' text-anchor='middle' font-size='11'>")
        out.append(f"{esc(title)}</text>")
        for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
            y = bar_y(tick)
            out.append(
                f"<line x1='{LEFT}' x2='{LEFT + PLOT_W}' y1='{y:.1f}' y2='{y:.1f}' "
                "stroke='#ddd'/>"
                f"<text x='{LEFT - 4}' y='{y + 3:.1f}' text-anchor='end'>{tick:g}</text>"
            )
        for g, group in enumerate(groups):
            centre = LEFT + (g + 0.5) * slot
            out.append(
                f"<text x='{centre:.1f}' y='{TOP + PLOT_H + 14}' text-anchor='middle'>"
                f"{esc(group)}</text>"
            )
            for s, (label, rates) in enumerate(series):
                rate = rates.get(group, {}).get(name)
                if rate is None or rate.n == 0:
                    continue
                x = centre + (s - len(series) / 2) * bar
                mid = x + bar / 2
                out.append(
                    f"<rect x='{x:.1f}' y='{bar_y(rate.value):.1f}' width='{bar:.1f}' "
                    f"height='{rate.value * PLOT_H:.1f}' fill='{COLOURS[s % len(COLOURS)]}'>"
                    f"<title>{esc(label)}, {esc(group)}: {esc(rate)}</title></rect>"
                    f"<path d='M{mid:.1f} {bar_y(rate.lo):.1f}V{bar_y(rate.hi):.1f}"
                    f"M{mid - 3:.1f} {bar_y(rate.lo):.1f}h6M{mid - 3:.1f} {bar_y(rate.hi):.1f}h6' "
                    "stroke='#333'/>"
                )
        out.append("</g>")
    k = len(titles)
    out.append(
        f"<g transform='translate({k % COLUMNS * PANEL_W + LEFT},{k // COLUMNS * PANEL_H})'>"
        f"<text x='0' y='{TOP}' font-size='11'>defense</text>"
    )
    for s, (label, _) in enumerate(series):
        y = TOP + 16 * (s + 1)
        out.append(
            f"<rect x='0' y='{y - 9}' width='10' height='10' fill='{COLOURS[s % len(COLOURS)]}'/>"
            f"<text x='16' y='{y}'>{esc(label)}</text>"
        )
    out.append("</g></svg>")
    return Html("".join(out))
