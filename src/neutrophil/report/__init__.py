"""Reports: self-contained HTML with inline plots (matplotlib, or hand-written SVG)."""

from neutrophil.report.html import page, png, section, table

__all__ = ["page", "png", "section", "table"]
