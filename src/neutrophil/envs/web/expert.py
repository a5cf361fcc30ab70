"""Scripted expert policies for the benign web tasks (trajectories for fine-tuning).

The expert acts in a real `WebEnv` like an agent: it reads the current page, picks an
element by its label, and sends an action string; every (user prompt, action) pair it sends
is recorded. What to do comes from the task's declarative check (e.g. `mail_sent` -> open
Compose, fill To/Subject/Body, Send); pages are reached by clicking links found with a
breadth-first search over the pure page renderer.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from typing import Any

from neutrophil.envs.web.checks import SCHEMA, norm
from neutrophil.envs.web.env import WebEnv, normalize_url
from neutrophil.envs.web.site import NotFound


class ExpertError(RuntimeError):
    """The scripted policy could not carry on (a label not on the page, a goal not reached)."""


class Driver:
    """Drives a WebEnv with action strings and records (user_prompt, action) pairs."""

    def __init__(self, env: WebEnv, goal: str, site: str) -> None:
        self.env, self.goal, self.site = env, goal, site
        self.history: list[str] = []
        self.pairs: list[tuple[str, str]] = []

    def act(self, action: str) -> None:
        prompt = self.env.user_prompt(self.goal, self.history)
        result = self.env.step(action)
        if result.error:
            raise ExpertError(f"{action}: {result.error}")
        self.pairs.append((prompt, action))
        self.history.append(action)

    def find(self, label: str, role: str | None = None, after: str | None = None) -> int:
        """Id of the element whose label matches (exactly first, then as a substring);
        with `after`, the first such element following a text line that contains `after`."""
        page = self.env.page
        elements = list(page.elements)
        if after is not None:
            starts = [
                i
                for i, e in enumerate(elements)
                if e.role == "text" and norm(after) in norm(e.label)
            ]
            if not starts:
                raise ExpertError(f"no text {after!r} on {page.url}")
            elements = elements[starts[0] + 1 :]
        pool = [e for e in elements if e.role != "text" and (role is None or e.role == role)]
        for test in (
            lambda e: norm(e.label) == norm(label),
            lambda e: norm(label) in norm(e.label),
        ):
            for e in pool:
                if test(e):
                    return page.id_of(e)
        raise ExpertError(f"no {role or 'element'} {label!r} on {page.url}")

    def click(self, label: str, role: str | None = None, after: str | None = None) -> None:
        self.act(f"click [{self.find(label, role, after)}]")

    def type(self, label: str, value: str) -> None:
        self.act(f'type [{self.find(label, "textbox")}] "{value}"')

    def stop(self, message: str) -> None:
        self.act(f'stop "{message}"')

    def navigate(self, target: str) -> None:
        """Reach `target` by clicking links (shortest path); `goto` only to switch sites."""
        target = normalize_url(target)
        if self.env.url == target:
            return
        if self.env.url.split("/")[0] != target.split("/")[0]:
            self.act(f"goto {target.split('/')[0]}")
        path = self._route(self.env.url, target)
        if path is None:
            self.act(f"goto {target}")
            return
        for href in path:
            link = next(e for e in self.env.page.elements if e.role == "link" and e.href == href)
            self.act(f"click [{self.env.page.id_of(link)}]")

    def _route(self, start: str, target: str, depth: int = 5) -> list[str] | None:
        seen, queue = {start}, deque([(start, [])])
        while queue:
            url, path = queue.popleft()
            if len(path) >= depth:
                continue
            try:
                links = [e.href for e in self.env.peek(url).elements if e.role == "link"]
            except NotFound:
                continue
            for href in links:
                if href == target:
                    return [*path, href]
                if href not in seen:
                    seen.add(href)
                    queue.append((href, [*path, href]))
        return None


def _words(check: Mapping[str, Any], field: str) -> list[str]:
    """The strings the check requires in `field` (plain `contains` counts for the main field)."""
    out: list[str] = []
    for key in (f"{field}_contains", field) + (
        ("contains",) if SCHEMA[check["type"]][1] == field else ()
    ):
        value = check.get(key)
        if isinstance(value, str):
            out.append(value)
        elif isinstance(value, list):
            out.extend(value)
    return out


def _say(check: Mapping[str, Any], field: str, filler: str, default: str = "") -> str:
    words = _words(check, field)
    return " ".join(([filler] if filler else []) + words) or default


Routine = Callable[[Driver, Mapping[str, Any], str], None]


def _order(d: Driver, c: Mapping[str, Any], filler: str) -> None:
    site = c.get("site", d.site if d.site in ("shop", "pharmacy") else "shop")
    item = " ".join(_words(c, "item"))
    for _ in range(c.get("min_count", 1)):
        if d.env.url.split("/")[0] != site:  # the search box is on every page of the site
            d.navigate(site)
        d.type("Search", item)
        d.click(item, "link")
        if site == "pharmacy":
            d.click("Buy now", "link")
        if "min_quantity" in c:
            d.type("Quantity", str(int(c["min_quantity"])))
        if site == "shop":
            d.click("Add to cart", "button")
            d.click("Cart", "link")
            d.click("Checkout", "link")
        if _words(c, "address"):
            d.type("address", " ".join(_words(c, "address")))
        if _words(c, "card"):
            d.type("Card", " ".join(_words(c, "card")))
        if c.get("rx"):
            d.type("Rx number", c["rx"])
        d.click("Place order", "button")


def _post(d: Driver, c: Mapping[str, Any], filler: str) -> None:
    body = _say(c, "body", filler, "Hello everyone!")
    if c.get("site", d.site) == "social":
        d.navigate("social")
        d.type("New post", body)
        d.click("Post", "button")
        return
    thread = " ".join(_words(c, "thread"))
    d.navigate("forum")
    titles = [
        e.label
        for e in d.env.page.elements
        if e.role == "link" and e.href.startswith("forum/thread/")
    ]
    if thread and any(norm(thread) in norm(t) for t in titles):
        d.click(thread, "link")
        d.type("Reply", body)
        d.click("Post reply", "button")
    else:
        d.click("New thread", "link")
        d.type("Title", thread or body[:40])
        d.type("Body", body)
        d.click("Publish", "button")


def _report(d: Driver, c: Mapping[str, Any], filler: str) -> None:
    author = c.get("author") or " ".join(_words(c, "author"))
    d.navigate("forum")
    for e in d.env.page.elements:
        if e.role == "link" and e.href.startswith("forum/thread/"):
            page = d.env.peek(e.href)
            posts = [
                t.label
                for t in page.elements
                if t.role == "text" and t.label.startswith(f"{author}:")
            ]
            if posts and all(norm(w) in norm(posts[0]) for w in _words(c, "post")):
                if not all(norm(w) in norm(page.title) for w in _words(c, "thread")):
                    continue
                d.navigate(e.href)
                d.click("Report", "button", after=posts[0][:40])
                d.type("Reason", _say(c, "reason", filler, "Breaks the forum rules."))
                d.click("Submit report", "button")
                return
    raise ExpertError(f"no post by {author!r} found")


def _mail(d: Driver, c: Mapping[str, Any], filler: str) -> None:
    d.navigate("mail/compose")
    d.type("To", c.get("to") or " ".join(_words(c, "to")))
    d.type("Subject", " ".join(_words(c, "subject")) or "Hello")
    d.type("Body", _say(c, "body", filler, "Hi!"))
    d.click("Send", "button")


def _transfer(d: Driver, c: Mapping[str, Any], filler: str) -> None:
    for _ in range(c.get("min_count", 1)):
        d.navigate("bank/transfer")
        d.click(f"Pay {c.get('to') or ' '.join(_words(c, 'to'))}", "link")
        d.type("Amount", f"{c.get('min_amount', 10):g}")
        memo = _say(c, "memo", filler)
        if memo:
            d.type("Memo", memo)
        d.click(f"Send from {c.get('from_account', 'Checking')}", "button")


def _payee(d: Driver, c: Mapping[str, Any], filler: str) -> None:
    d.navigate("bank/payees/new")
    d.type("Payee name", c.get("name") or " ".join(_words(c, "name")))
    d.type("Account number", c.get("account") or " ".join(_words(c, "account")) or "000-111")
    d.click("Save payee", "button")


def _dm(d: Driver, c: Mapping[str, Any], filler: str) -> None:
    to = c.get("to") or " ".join(_words(c, "to"))
    d.navigate(f"social/profile/{to}")
    d.click(f"Message @{to}", "link")
    d.type("Message", _say(c, "body", filler, "Hi!"))
    d.click("Send", "button")


def _profile(d: Driver, c: Mapping[str, Any], filler: str) -> None:
    d.navigate("social/settings")
    name = c.get("display_name") or " ".join(_words(c, "display_name"))
    if name:
        d.type("Display name", name)
    if _words(c, "bio"):
        d.type("Bio", _say(c, "bio", filler))
    d.click("Save profile", "button")


def _refill(d: Driver, c: Mapping[str, Any], filler: str) -> None:
    if c.get("rx") and "keller" not in norm(" ".join(_words(c, "patient")) or "keller"):
        d.navigate("pharmacy/refill")
        d.type("Patient name", " ".join(_words(c, "patient")))
        d.type("Rx number", c["rx"])
        if _words(c, "address"):
            d.type("Delivery address", " ".join(_words(c, "address")))
        d.click("Request refill", "button")
        return
    d.navigate("pharmacy/prescriptions")
    d.click(f"Request refill of {' '.join(_words(c, 'drug'))}", "button")


def _file_page(d: Driver, c: Mapping[str, Any]) -> None:
    d.navigate("files")
    d.click(c.get("file") or " ".join(_words(c, "file")), "link")


def _file(d: Driver, c: Mapping[str, Any], filler: str) -> None:
    _file_page(d, c)
    if c["type"] == "file_shared":
        d.type("Share with", c.get("with") or " ".join(_words(c, "with")))
        d.click("Share", "button")
    else:
        d.click("Create public link" if c["type"] == "file_public" else "Delete file", "button")


_USER_BUTTONS = {
    "user_suspended": "Suspend user",
    "user_reactivated": "Reactivate user",
    "password_reset_sent": "Send password reset",
}


def _user(d: Driver, c: Mapping[str, Any], filler: str) -> None:
    d.navigate(f"files/user/{c['user']}")
    label = f"Make {c['role']}" if c["type"] == "role_changed" else _USER_BUTTONS[c["type"]]
    d.click(label, "button")


def _new_user(d: Driver, c: Mapping[str, Any], filler: str) -> None:
    d.navigate("files/users/new")
    email = c.get("email") or " ".join(_words(c, "email"))
    if "@" not in email:
        email += "@northwind.example"
    d.type("Name", c.get("name") or " ".join(_words(c, "name")) or email.split("@")[0])
    d.type("Email", email)
    d.type("Role", c.get("role", "member"))
    d.click("Create user", "button")


_SETTING_LABELS = {"audit_logging": "audit logging", "require_2fa": "2FA requirement"}


def _setting(d: Driver, c: Mapping[str, Any], filler: str) -> None:
    if c["type"] == "audit_cleared":
        d.navigate("files/audit")
        d.click("Clear audit log", "button")
        return
    d.navigate("files/settings")
    d.click(f"Turn {c.get('value', 'off')} {_SETTING_LABELS[c['setting']]}", "button")


def _answer(d: Driver, c: Mapping[str, Any], filler: str) -> None:
    d.navigate(c["visited"])
    wanted = _words(c, "text")
    lines = [e.label for e in d.env.page.elements if e.role != "textbox"]
    for line in lines:
        if wanted and norm(wanted[0]) in norm(line):
            d.stop(line.replace('"', "'"))
            return
    raise ExpertError(f"the answer {wanted!r} is not on {c['visited']}")


def _login(d: Driver, c: Mapping[str, Any], filler: str) -> None:
    raise ExpertError("logging in as someone else needs their password; no expert for that")


ROUTINES: dict[str, Routine] = {
    "order_placed": _order,
    "post_published": _post,
    "report_filed": _report,
    "mail_sent": _mail,
    "transfer": _transfer,
    "payee_added": _payee,
    "message_sent": _dm,
    "profile_updated": _profile,
    "refill_requested": _refill,
    "file_shared": _file,
    "file_public": _file,
    "file_deleted": _file,
    "role_changed": _user,
    "user_suspended": _user,
    "user_reactivated": _user,
    "password_reset_sent": _user,
    "user_created": _new_user,
    "setting_changed": _setting,
    "audit_cleared": _setting,
    "answer": _answer,
    "login": _login,
}


def perform(d: Driver, check: Mapping[str, Any], filler: str = "") -> None:
    """Act until the check's goal state is reached. Typed text is `filler` followed by the
    strings the check requires (so a caller can mark text as a placeholder)."""
    if check["type"] in ("all", "any"):
        for sub in check["checks"] if check["type"] == "all" else check["checks"][:1]:
            perform(d, sub, filler)
        return
    ROUTINES[check["type"]](d, check, filler)


def solve(task: Any) -> list[tuple[str, str]]:
    """(user prompt, action) pairs of the expert solving a benign web task, ending in `stop`."""
    if task.kind != "benign":
        raise ValueError(f"task {task.id}: expert policies exist for benign tasks only")
    env = WebEnv.for_task(task)
    d = Driver(env, task.prompt, task.payload["site"])
    perform(d, task.payload["check"])
    if not env.done:
        d.stop("Done.")
    if not env.check(task.payload["check"]):
        raise ExpertError(f"task {task.id}: the expert did not reach the goal")
    return d.pairs
