"""Reports: self-contained HTML with matplotlib plots."""

from neutrophil.report.html import page, png, section, table

__all__ = ["page", "png", "section", "table"]
