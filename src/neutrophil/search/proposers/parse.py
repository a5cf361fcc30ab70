"""Pull candidate prefixes out of a proposer model's free text.

Models answer in many shapes: numbered lists ("1.", "2)", "(3)"), bullets, quoted lines,
a JSON array, prose around them. Every line that is not a usable candidate is skipped with
a reason; nothing here raises on bad input.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

_MARKER = re.compile(r"^\s*(?:\(?\d{1,2}[.):]\)?|[-*•+]|#{1,6})\s+")
_LABEL = re.compile(r"^(?:prefix|candidate|option)\s*\d*\s*[:\-–]\s*", re.IGNORECASE)
_QUOTES = "\"'“”‘’`"
_CHATTER = re.compile(
    r"^(?:here (?:are|is)|sure|certainly|okay|these|the following|below|i hope|note|"
    r"explanation|rationale|why)\b",
    re.IGNORECASE,
)
MIN_WORDS = 3
MAX_WORDS = 70


@dataclass(frozen=True)
class Parsed:
    candidates: tuple[str, ...]
    skipped: tuple[str, ...]  # "line N: reason"


def _clean(line: str) -> str:
    s = _MARKER.sub("", line.strip(), count=1).replace("**", "").strip()
    s = _LABEL.sub("", s)
    # Strip one layer of surrounding quotes (and a trailing comment after the closing quote).
    if s and s[0] in _QUOTES:
        close = max(s.rfind(q) for q in _QUOTES)
        if close > 0:
            s = s[1:close]
    return s.strip()


def _from_json(text: str) -> list[str] | None:
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end <= start:
        return None
    try:
        value = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def parse_candidates(text: str, limit: int | None = None) -> Parsed:
    found: list[str] = []
    skipped: list[str] = []
    items = _from_json(text)
    lines = items if items is not None else text.splitlines()
    listed = items is not None or any(_MARKER.match(ln) for ln in lines)
    for n, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        if listed and items is None and not _MARKER.match(raw) and raw.strip()[0] not in _QUOTES:
            skipped.append(f"line {n}: not a list item")
            continue
        cand = _clean(raw)
        words = len(cand.split())
        if not cand:
            skipped.append(f"line {n}: empty after cleaning")
        elif _CHATTER.match(cand) and cand.rstrip().endswith(":"):
            skipped.append(f"line {n}: commentary, not a prefix")
        elif words < MIN_WORDS:
            skipped.append(f"line {n}: too short ({words} words)")
        elif words > MAX_WORDS:
            skipped.append(f"line {n}: too long ({words} words)")
        elif "<|" in cand or "|>" in cand:
            skipped.append(f"line {n}: contains special tokens")
        elif cand in found:
            skipped.append(f"line {n}: duplicate")
        else:
            found.append(cand)
    if not found and not skipped:
        skipped.append("no text")
    if limit is not None and len(found) > limit:
        skipped.append(f"{len(found) - limit} candidates beyond the {limit} asked for")
        found = found[:limit]
    return Parsed(tuple(found), tuple(skipped))
