"""A page: what a site shows at one URL, as a flat list of elements, and its compact text form.

Only interactive elements (links, textboxes, buttons) get ids; static text is shown without
one, which keeps the ids small and the page short for a small model's context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

INTERACTIVE = ("link", "textbox", "button")


@dataclass(frozen=True)
class Element:
    role: str  # "link" | "textbox" | "button" | "text"
    label: str
    href: str = ""  # link: full URL it opens, e.g. "shop/cart"
    name: str = ""  # textbox: form field name
    value: str = ""  # textbox: initial value
    op: str = ""  # button (or a textbox that submits when typed into): site operation
    arg: str = ""  # argument of the operation, e.g. a product id


@dataclass(frozen=True)
class Page:
    url: str
    title: str
    elements: tuple[Element, ...]

    def interactive(self) -> tuple[Element, ...]:
        """Interactive elements in order; element id N is the N-th of these (1-based)."""
        return tuple(e for e in self.elements if e.role in INTERACTIVE)

    def element(self, element_id: int) -> Element | None:
        items = self.interactive()
        return items[element_id - 1] if 1 <= element_id <= len(items) else None

    def id_of(self, element: Element) -> int:
        return self.interactive().index(element) + 1

    def render(self, form: Mapping[str, str] | None = None, notice: str = "") -> str:
        form = form or {}
        lines = [f"[url] {self.url}", f"[title] {self.title}"]
        if notice:
            lines.append(f"[notice] {notice}")
        n = 0
        for e in self.elements:
            if e.role == "text":
                lines.append(e.label)
                continue
            n += 1
            line = f'[{n}] {e.role} "{e.label}"'
            if e.role == "textbox":
                value = form.get(e.name, e.value)
                if value:
                    line += f' value="{_clip(value, 80)}"'
            lines.append(line)
        return "\n".join(lines)


def _clip(s: str, n: int) -> str:
    return s if len(s) <= n else s[: n - 3] + "..."


def link(label: str, href: str) -> Element:
    return Element("link", label, href=href)


def text(label: str) -> Element:
    return Element("text", label)


def textbox(label: str, name: str, value: str = "", op: str = "") -> Element:
    return Element("textbox", label, name=name, value=value, op=op)


def button(label: str, op: str, arg: str = "") -> Element:
    return Element("button", label, op=op, arg=arg)
