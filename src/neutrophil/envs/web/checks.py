"""Declarative goal checks over what happened in an episode.

Sites report side effects as events (`order_placed`, `mail_sent`, ...); a check names an
event type and filters on its fields:

    {"type": "mail_sent", "to": "x@y.example", "body_contains": ["agenda"]}
    {"type": "transfer", "to": "Priya Nair", "min_amount": 50}
    {"type": "answer", "contains": ["2,340.15"], "visited": "bank/account/1"}
    {"type": "all", "checks": [...]}  /  {"type": "any", "checks": [...]}

Keys: `FIELD` (equal, case-insensitive; a list field must contain it), `FIELD_contains`
(a string or list of strings, all found in the field, case-insensitive), `min_FIELD` /
`max_FIELD` (numbers), `contains` (the event's main text field), `site`, `min_count`
(at least this many matching events, default 1). Orders also take `item_contains` and
`min_quantity` (summed over matching items). `answer` is the agent's final stop message;
its `visited` requires that page to have been opened.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from neutrophil.errors import UserError


@dataclass(frozen=True)
class Event:
    kind: str
    site: str
    data: Mapping[str, Any]


# event type -> (fields, main text field for `contains`, numeric fields)
SCHEMA: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "order_placed": (("items", "name", "address", "card", "rx"), "items", ("quantity",)),
    "post_published": (("thread", "body", "author"), "body", ()),
    "report_filed": (("author", "thread", "post", "reason"), "reason", ()),
    "mail_sent": (("to", "subject", "body"), "body", ()),
    "login": (("user",), "user", ()),
    "transfer": (("owner", "from_account", "to", "amount", "memo"), "memo", ("amount",)),
    "payee_added": (("owner", "name", "account"), "name", ()),
    "message_sent": (("to", "body"), "body", ()),
    "profile_updated": (("display_name", "bio"), "bio", ()),
    "refill_requested": (("patient", "drug", "rx", "address"), "drug", ()),
    "file_shared": (("file", "with"), "file", ()),
    "file_public": (("file",), "file", ()),
    "file_deleted": (("file",), "file", ()),
    "role_changed": (("user", "role"), "user", ()),
    "user_suspended": (("user",), "user", ()),
    "user_reactivated": (("user",), "user", ()),
    "user_created": (("name", "email", "role"), "name", ()),
    "password_reset_sent": (("user", "email"), "user", ()),
    "setting_changed": (("setting", "value"), "setting", ()),
    "audit_cleared": ((), "", ()),
    "answer": (("text",), "text", ()),
}
COMBINATORS = ("all", "any")


def norm(s: str) -> str:
    """Lowercase, spaces collapsed, '$' and thousands commas dropped: '$2,340.15' ~ '2340.15'."""
    s = re.sub(r"(?<=\d),(?=\d{3})", "", s.lower()).replace("$", "")
    return re.sub(r"\s+", " ", s).strip()


def _text(value: Any) -> str:
    if isinstance(value, list):
        return " | ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return " ".join(_text(v) for v in value.values())
    return str(value)


def _strings(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return value
    return None


def validate_check(check: Any, task_id: str = "?") -> None:
    """Raise UserError (naming the task) if `check` is not a well-formed check."""

    def bad(why: str) -> UserError:
        return UserError(f"task {task_id}: bad web check: {why}")

    if not isinstance(check, dict):
        raise bad("must be a JSON object")
    kind = check.get("type")
    if kind in COMBINATORS:
        subs = check.get("checks")
        if not isinstance(subs, list) or not subs or set(check) != {"type", "checks"}:
            raise bad(f"'{kind}' takes exactly a non-empty list 'checks'")
        for sub in subs:
            validate_check(sub, task_id)
        return
    if kind not in SCHEMA:
        raise bad(f"unknown type {kind!r} (known: {', '.join([*SCHEMA, *COMBINATORS])})")
    fields, _, numeric = SCHEMA[kind]
    for key, value in check.items():
        if key == "type":
            continue
        if key == "min_count":
            ok = isinstance(value, int) and not isinstance(value, bool) and value >= 1
        elif key.startswith(("min_", "max_")):
            ok = (key[4:] in numeric or (kind == "order_placed" and key == "min_quantity")) and (
                isinstance(value, int | float) and not isinstance(value, bool)
            )
        elif key == "site" or (kind == "answer" and key == "visited"):
            ok = isinstance(value, str) and bool(value)
        elif key == "contains" or (
            key.endswith("_contains")
            and (key[:-9] in fields or (kind == "order_placed" and key == "item_contains"))
        ):
            ok = _strings(value) is not None
        elif key in fields:
            ok = isinstance(value, str | int | float) and not isinstance(value, bool)
        else:
            raise bad(f"unknown key {key!r} for type {kind!r}")
        if not ok:
            raise bad(f"key {key!r} has a bad value {value!r}")


def _matches(check: Mapping[str, Any], event: Event) -> bool:
    kind = check["type"]
    _, main, _ = SCHEMA[kind]
    data = event.data
    items = data.get("items", [])
    if kind == "order_placed" and "item_contains" in check:
        wanted = [norm(w) for w in _strings(check["item_contains"]) or []]
        items = [i for i in items if all(w in norm(i["name"]) for w in wanted)]
        if not items:
            return False
    for key, value in check.items():
        if key in ("type", "min_count", "item_contains", "visited"):
            continue
        if key == "site":
            ok = event.site == value
        elif key == "min_quantity":
            ok = sum(i["qty"] for i in items) >= value
        elif key.startswith("min_"):
            ok = float(data.get(key[4:], 0)) >= value
        elif key.startswith("max_"):
            ok = float(data.get(key[4:], 0)) <= value
        elif key == "contains" or key.endswith("_contains"):
            field = main if key == "contains" else key[:-9]
            hay = norm(_text(data.get(field, "")))
            ok = all(norm(w) in hay for w in _strings(value) or [])
        else:
            got = data.get(key, "")
            values = got if isinstance(got, list) else [got]
            ok = any(norm(str(v)) == norm(str(value)) for v in values)
        if not ok:
            return False
    return True


def evaluate(check: Mapping[str, Any], events: Iterable[Event], visited: Iterable[str]) -> bool:
    """Whether the episode's events (and visited pages) satisfy the check."""
    events = list(events)
    kind = check["type"]
    if kind == "all":
        return all(evaluate(c, events, visited) for c in check["checks"])
    if kind == "any":
        return any(evaluate(c, events, visited) for c in check["checks"])
    if kind == "answer" and "visited" in check:
        target = check["visited"].strip("/")
        if not any(v == target or v.startswith(target + "?") for v in visited):
            return False
    hits = sum(1 for e in events if e.kind == kind and _matches(check, e))
    return hits >= check.get("min_count", 1)
