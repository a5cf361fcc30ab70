"""Web actions and a forgiving parser from a model's raw output.

The parser takes the first line holding an action, and within a line the earliest action,
so leading prose (a defense prefix such as "I will act safely. ") does not get in the way.
Ids may come with or without brackets, text with or without quotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

KINDS = ("click", "type", "goto", "stop")


@dataclass(frozen=True)
class Action:
    kind: str  # one of KINDS
    element: int | None = None  # click / type
    text: str = ""  # type: the text; goto: the URL; stop: the message

    def __str__(self) -> str:
        if self.kind == "click":
            return f"click [{self.element}]"
        if self.kind == "type":
            return f'type [{self.element}] "{self.text}"'
        if self.kind == "goto":
            return f"goto {self.text}"
        return f'stop "{self.text}"'


_ID = r"(?:\s+(?:on|into|in|element|id))?\s*[\[(]?\s*#?(\d+)\s*[\])]?"
_CLICK = re.compile(rf"\bclick{_ID}", re.I)
_TYPE = re.compile(rf"\btype{_ID}[:,]?(.*)", re.I)
_GOTO = re.compile(r"\bgoto\s*[\[(\"'<]?\s*([\w.:/?=&%+~#-]*[a-z][\w.:/?=&%+~#-]*)", re.I)
_GO_TO = re.compile(r"\bgo\s+to\s*[\[(\"'<]?\s*([\w.:?=&%+~#-]*/[\w.:/?=&%+~#-]*)", re.I)
_STOP_QUOTED = re.compile(r"\bstop\s*(?:\[|\(|:)?\s*([\"“'])(.*)", re.I)
_STOP_LEAD = re.compile(r"^[\s>*`#\-\d.)]*(?:action\s*:\s*)?stop\b[\s:]*(.*)$", re.I)
_CLOSERS = {'"': '"', "“": "”", "'": "'", "[": "]", "(": ")"}


def _unquote(raw: str) -> str:
    """Text after an action keyword: a quoted or bracketed span if there is one, else the rest."""
    s = raw.strip()
    if s and s[0] in _CLOSERS:
        close = _CLOSERS[s[0]]
        if s[0] in "[(":  # bracketed: up to the first closer (WebArena-style "[text] [1]")
            end = s.find(close)
        else:  # quoted: up to the last quote, so inner quotes survive
            end = s.rfind(close) if close != "”" else max(s.rfind("”"), s.rfind('"'))
        s = s[1:end] if end > 0 else s[1:]
    return s.replace('\\"', '"').strip()


def _in_line(line: str) -> Action | None:
    found: list[tuple[int, Action]] = []
    if m := _CLICK.search(line):
        found.append((m.start(), Action("click", int(m.group(1)))))
    if m := _TYPE.search(line):
        found.append((m.start(), Action("type", int(m.group(1)), _unquote(m.group(2)))))
    for pattern in (_GOTO, _GO_TO):
        if m := pattern.search(line):
            found.append((m.start(), Action("goto", text=m.group(1).strip(".,;\"')]>"))))
    if m := _STOP_QUOTED.search(line):
        found.append((m.start(), Action("stop", text=_unquote(m.group(1) + m.group(2)))))
    elif m := _STOP_LEAD.match(line):
        found.append((m.start(), Action("stop", text=_unquote(m.group(1)))))
    return min(found, key=lambda f: f[0])[1] if found else None


def parse_action(raw: str) -> Action | None:
    """The first action in `raw` (first line that holds one), or None if there is none."""
    for line in raw.splitlines():
        if action := _in_line(line):
            return action
    return None
