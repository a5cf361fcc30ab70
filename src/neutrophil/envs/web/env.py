"""`WebEnv`: one episode in the simulated web. All sites live in one fresh world per episode,
so a task may start on one site and use another (read a password in mail, use it at the bank).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from neutrophil.envs.web.actions import Action, parse_action
from neutrophil.envs.web.checks import Event, evaluate, validate_check
from neutrophil.envs.web.page import Element, Page
from neutrophil.envs.web.prompts import user_prompt
from neutrophil.envs.web.site import NotFound, Site, SiteError
from neutrophil.envs.web.sites import SITES
from neutrophil.errors import UserError

MAX_STEPS = 15
MAX_ERRORS = 3


@dataclass(frozen=True)
class StepResult:
    action: Action | None
    error: str | None
    done: bool
    message: str | None


def normalize_url(raw: str) -> str:
    """'https://shop.example/cart/' -> 'shop/cart'; a query string is kept."""
    s = raw.strip().strip("\"'<>[]()")
    s = re.sub(r"^[a-z]+://", "", s, flags=re.I).lstrip("/").removeprefix("www.")
    s, _, query = s.partition("?")
    head, _, path = s.partition("/")
    head = head.split(".")[0].split(":")[0].lower()
    path = "/".join(p for p in path.split("/") if p)
    return (f"{head}/{path}" if path else head) + (f"?{query}" if query else "")


class WebEnv:
    def __init__(
        self,
        site: str,
        start: str | None = None,
        *,
        task_id: str = "?",
        max_steps: int = MAX_STEPS,
        max_errors: int = MAX_ERRORS,
    ) -> None:
        if site not in SITES:
            raise UserError(
                f"task {task_id}: unknown web site {site!r} (known: {', '.join(SITES)})"
            )
        self.task_id = task_id
        self.max_steps, self.max_errors = max_steps, max_errors
        self._events: list[Event] = []
        self.sites: dict[str, Site] = {
            name: cls(self._emitter(name)) for name, cls in SITES.items()
        }
        self.visited: list[str] = []
        self.steps_taken = 0
        self.done = False
        self.message: str | None = None
        self.last_error: str | None = None
        self._errors_in_row = 0
        self._form: dict[str, str] = {}
        self._notice = ""
        url = normalize_url(start) if start else site
        if url.split("/")[0].split("?")[0] not in SITES:
            url = normalize_url(f"{site}/{start}")
        try:
            self.peek(url)
        except NotFound:
            raise UserError(f"task {task_id}: start page {start!r} does not exist") from None
        self.url = ""
        self._open(url)

    @classmethod
    def for_task(cls, task: Any, **kwargs: Any) -> WebEnv:
        """A fresh episode for a web `Task` (checks are validated here, naming the task)."""
        site = task.payload.get("site")
        if not site:
            raise UserError(f"task {task.id}: a web task needs 'site'")
        validate_check(task.payload.get("check"), task.id)
        return cls(site, task.payload.get("start"), task_id=task.id, **kwargs)

    def _emitter(self, site: str):
        def emit(kind: str, data: dict[str, Any]) -> None:
            self._events.append(Event(kind, site, data))

        return emit

    @property
    def events(self) -> tuple[Event, ...]:
        return tuple(self._events)

    # pages
    def peek(self, url: str) -> Page:
        """The page at `url` in the current state, without visiting it. Raises NotFound."""
        url = normalize_url(url)
        parts = urlsplit("//x/" + url)
        name, _, path = parts.path.strip("/").partition("/")
        if name not in self.sites:
            raise NotFound(url)
        return self.sites[name].page(path, dict(parse_qsl(parts.query)))

    @property
    def page(self) -> Page:
        try:
            return self.peek(self.url)
        except NotFound:  # the page vanished (e.g. its file was deleted): fall back to the home
            return self.peek(self.url.split("/")[0].split("?")[0])

    def observation(self) -> str:
        return self.page.render(self._form, self._notice)

    def user_prompt(self, goal: str, history: list[str]) -> str:
        return user_prompt(goal, history, self.observation(), self.last_error)

    def _open(self, url: str, notice: str = "") -> None:
        self.url = url
        self._form = {}
        self._notice = notice
        self.visited.append(url)

    # acting
    def step(self, raw: str) -> StepResult:
        if self.done:
            return StepResult(None, "the episode is over", True, self.message)
        self.steps_taken += 1
        action = parse_action(raw)
        error = 'no action found (use click [id], type [id] "text", goto URL or stop "message")'
        if action is not None:
            error = self._apply(action)
        self.last_error = error
        self._errors_in_row = self._errors_in_row + 1 if error else 0
        if self._errors_in_row >= self.max_errors or self.steps_taken >= self.max_steps:
            self.done = True
        return StepResult(action, error, self.done, self.message)

    def _apply(self, action: Action) -> str | None:
        if action.kind == "stop":
            self.done = True
            self.message = action.text
            self._events.append(Event("answer", self.url.split("/")[0], {"text": action.text}))
            return None
        if action.kind == "goto":
            url = normalize_url(action.text)
            try:
                self.peek(url)
            except NotFound:
                return f"no such page: {action.text}"
            self._open(url)
            return None
        page = self.page
        element = page.element(action.element or 0)
        if element is None:
            return f"no element [{action.element}] on this page"
        if action.kind == "type":
            if element.role != "textbox":
                return f"[{action.element}] is a {element.role}, not a textbox"
            self._form[element.name] = action.text
            if element.op:
                self._submit(page, element)
            return None
        if element.role == "link":
            self._open(element.href)
        elif element.role == "button":
            self._submit(page, element)
        return None  # clicking a textbox only focuses it

    def _submit(self, page: Page, element: Element) -> None:
        site = self.sites[page.url.split("/")[0].split("?")[0]]
        form = {
            e.name: self._form.get(e.name, e.value) for e in page.elements if e.role == "textbox"
        }
        try:
            outcome = site.submit(element.op, element.arg, form)
        except SiteError as e:
            self._notice = str(e)
            return
        if outcome.url is not None:
            self._open(outcome.url, outcome.notice)
        else:
            self._form, self._notice = {}, outcome.notice

    def check(self, check: dict[str, Any]) -> bool:
        validate_check(check, self.task_id)
        return evaluate(check, self._events, self.visited)
