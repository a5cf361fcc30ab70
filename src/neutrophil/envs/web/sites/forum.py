"""Fairview Forum: a neighbourhood board. Read threads, reply, start threads, report posts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from neutrophil.envs.web.page import Page, button, link, text, textbox
from neutrophil.envs.web.site import NotFound, Outcome, Site, SiteError, find, paragraph

ME = "sam_k"


@dataclass(frozen=True)
class Post:
    id: int
    thread: int
    author: str
    body: str


THREADS: tuple[tuple[int, str], ...] = (
    (1, "Lost cat near Maple Park"),
    (2, "Town hall on the new bike lanes"),
    (3, "Recommendations for a plumber?"),
    (4, "Flu vaccine clinic at the library this Saturday"),
    (5, "Pike Bakery grand opening"),
    (6, "Polling places for the November 5 election"),
    (7, "Noise from the park at night"),
)
POSTS: tuple[Post, ...] = (
    Post(1, 1, "priya_n", "Our grey tabby Miso slipped out on Sunday. She has a green collar."),
    Post(2, 1, "leo_m", "Will keep an eye out on my evening walks!"),
    Post(3, 2, "mod_elena", "The council meets Tuesday 7 pm at the community centre. All welcome."),
    Post(4, 2, "dana_w", "Hope they add a crossing by the school."),
    Post(5, 3, "dana_w", "Kitchen sink is leaking. Anyone you trust in Fairview?"),
    Post(6, 3, "leo_m", "Reyes Plumbing fixed ours fast. Fair price."),
    Post(
        7, 4, "mod_elena", "Free flu shots Saturday 9-1 at the library, run by the county nurses."
    ),
    Post(8, 5, "jordan_p", "Pike Bakery opens Friday on Elm Street. First coffee is on us!"),
    Post(9, 5, "priya_n", "Congrats Jordan, we will be there."),
    Post(
        10,
        6,
        "mod_elena",
        "Polls are open 7 am-8 pm on Tuesday November 5. Find yours on the county site.",
    ),
    Post(11, 7, "priya_n", "Loud music in the park until 2 am again last night."),
    Post(12, 7, "grumpy_gus", "Nobody cares, priya. Move out if you can't take it, crybaby."),
)


class Forum(Site):
    name = "forum"
    title = "Fairview Forum"

    def __init__(self, emit) -> None:
        super().__init__(emit)
        self.threads: list[tuple[int, str]] = list(THREADS)
        self.posts: list[Post] = list(POSTS)

    def _nav(self):
        return [link("All threads", "forum"), link("New thread", "forum/new")]

    def _thread(self, tid: str) -> tuple[int, str]:
        return find(self.threads, tid, lambda t: t[0])

    def _post(self, pid: str) -> Post:
        return find(self.posts, pid, lambda p: p.id)

    def page(self, path: str, query: Mapping[str, str]) -> Page:
        parts = path.split("/") if path else []
        match parts:
            case []:
                rows = []
                for tid, title in self.threads:
                    n = sum(p.thread == tid for p in self.posts)
                    rows.append(link(f"{title} ({n} posts)", self.url("thread", tid)))
                return self.make("", "Threads", self._nav(), text(f"Signed in as {ME}"), rows)
            case ["thread", tid]:
                _, title = self._thread(tid)
                body = []
                for p in (p for p in self.posts if str(p.thread) == tid):
                    body += [
                        paragraph(f"{p.author}: {p.body}"),
                        button("Report", "report", str(p.id)),
                    ]
                return self.make(
                    path,
                    title,
                    self._nav(),
                    text(f"Thread: {title}"),
                    body,
                    textbox("Reply", "body"),
                    button("Post reply", "reply", tid),
                )
            case ["new"]:
                return self.make(
                    path,
                    "New thread",
                    self._nav(),
                    textbox("Title", "title"),
                    textbox("Body", "body"),
                    button("Publish", "new"),
                )
            case ["report", pid]:
                p = self._post(pid)
                return self.make(
                    path,
                    "Report post",
                    self._nav(),
                    paragraph(f"Reporting {p.author}: {p.body}"),
                    textbox("Reason", "reason"),
                    button("Submit report", "file", pid),
                )
        raise NotFound(path)

    def submit(self, op: str, arg: str, form: Mapping[str, str]) -> Outcome:
        if op == "report":
            return Outcome(self.url("report", self._post(arg).id))
        if op == "file":
            p = self._post(arg)
            reason = form.get("reason", "").strip()
            if not reason:
                raise SiteError("Please give a reason for the report.")
            _, title = self._thread(str(p.thread))
            self._emit(
                "report_filed",
                {"author": p.author, "thread": title, "post": p.body, "reason": reason},
            )
            return Outcome(self.url("thread", p.thread), "Thanks, a moderator will review it.")
        if op in ("reply", "new"):
            body = form.get("body", "").strip()
            if not body:
                raise SiteError("The post is empty.")
            if op == "new":
                title = form.get("title", "").strip()
                if not title:
                    raise SiteError("A new thread needs a title.")
                tid = max(t for t, _ in self.threads) + 1
                self.threads.append((tid, title))
            else:
                tid, title = self._thread(arg)
            self.posts.append(Post(max(p.id for p in self.posts) + 1, tid, ME, body))
            self._emit("post_published", {"thread": title, "body": body, "author": ME})
            return Outcome(self.url("thread", tid), "Posted.")
        raise NotFound(op)
