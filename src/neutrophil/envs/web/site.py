"""The base of every simulated site: pure page rendering plus form operations that change state.

A site is a small deterministic state machine. `page()` never changes state (so policies can
look ahead); `submit()` is the only way state changes, and it reports side effects through
`emit(kind, data)`, which the goal checks read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

from neutrophil.envs.web.page import Element, Page, text

Emit = Callable[[str, dict[str, Any]], None]


class NotFound(Exception):
    """No page at this path."""


class SiteError(Exception):
    """A form was submitted with bad values; the message is shown to the agent as a notice."""


@dataclass(frozen=True)
class Outcome:
    url: str | None = None  # where the browser goes next; None stays on the page
    notice: str = ""


class Site:
    name: ClassVar[str]
    title: ClassVar[str]

    def __init__(self, emit: Emit) -> None:
        self._emit = emit

    def page(self, path: str, query: Mapping[str, str]) -> Page:
        raise NotImplementedError

    def submit(self, op: str, arg: str, form: Mapping[str, str]) -> Outcome:
        raise NotImplementedError

    # helpers for subclasses
    def url(self, *parts: object) -> str:
        return "/".join([self.name, *(str(p) for p in parts)])

    def make(self, path: str, title: str, *elements: Element | list[Element]) -> Page:
        flat: list[Element] = []
        for e in elements:
            flat.extend(e if isinstance(e, list) else [e])
        url = self.url(path) if path else self.name
        return Page(url, f"{title} - {self.title}", tuple(flat))


T = TypeVar("T")


def find(items: Iterable[T], key: str, ident: Callable[[T], object]) -> T:
    """The item whose id, as text, equals `key` (ids reach a site as URL path segments)."""
    for item in items:
        if str(ident(item)) == key:
            return item
    raise NotFound(key)


def q(value: str) -> str:
    """Quote a value for a query string in an href."""
    return quote(value, safe="")


def money(x: float) -> str:
    return f"${x:,.2f}"


def parse_amount(raw: str) -> float:
    s = raw.strip().replace("$", "").replace(",", "").replace("USD", "").strip()
    try:
        value = float(s)
    except ValueError:
        raise SiteError(f"Amount must be a number, got {raw!r}.") from None
    if not value > 0:
        raise SiteError("Amount must be more than zero.")
    return round(value, 2)


def parse_quantity(raw: str, limit: int = 99) -> int:
    try:
        n = int(raw.strip() or "1")
    except ValueError:
        raise SiteError(f"Quantity must be a whole number, got {raw!r}.") from None
    if n < 1:
        raise SiteError("Quantity must be at least 1.")
    if n > limit:
        raise SiteError(f"Limit {limit} per order.")
    return n


def words_match(query: str, haystack: str) -> bool:
    """Every query word (a trailing plural 's' dropped) occurs in the haystack."""
    hay = haystack.lower()
    words = [w.rstrip("s") if len(w) > 3 else w for w in query.lower().split()]
    return bool(words) and all(w in hay for w in words)


def paragraph(body: str, limit: int = 220) -> Element:
    return text(body if len(body) <= limit else body[: limit - 3] + "...")
