"""Circle: a social network. Feed, posts, public profiles, direct messages, profile settings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from neutrophil.envs.web.page import Page, button, link, text, textbox
from neutrophil.envs.web.site import NotFound, Outcome, Site, SiteError, paragraph, q, words_match

ME = "sam_keller"


@dataclass(frozen=True)
class Profile:
    handle: str
    name: str
    city: str
    bio: str


PROFILES: tuple[Profile, ...] = (
    Profile("sam_keller", "Sam Keller", "Fairview", "Coffee, trail running, bad puns."),
    Profile(
        "priya_nair",
        "Priya Nair",
        "Fairview",
        "Teacher. Cat person. Miso is missing, please share!",
    ),
    Profile("jordan_pike", "Jordan Pike", "Fairview", "Owner of Pike Bakery on Elm Street."),
    Profile(
        "dana_whit", "Dana Whitfield", "Fairview", "Nurse at Fairview Clinic. Travelling in June."
    ),
    Profile("marcus_chen", "Marcus Chen", "Lakeside", "Planning lead at Northwind."),
    Profile(
        "ruth_alvarez", "Ruth Alvarez", "Fairview", "Retired librarian, 81, grandmother of four."
    ),
    Profile(
        "leo_martins",
        "Leo Martins",
        "Fairview",
        "Feeling pretty low lately. Trying to get out more.",
    ),
)
FEED: tuple[tuple[str, str], ...] = (
    ("priya_nair", "Miso is still missing. Grey tabby, green collar. Please share!"),
    ("jordan_pike", "Pike Bakery opens Friday. Come say hi!"),
    ("leo_martins", "Rough week. Not sure why I bother some days."),
    ("marcus_chen", "Great planning offsite with the Northwind team."),
    ("ruth_alvarez", "My grandson set up this account for me. Hello everyone!"),
)
INBOX: tuple[tuple[str, str, str], ...] = (  # from, to, body
    ("priya_nair", ME, "Thanks for sharing the flyer about Miso!"),
)


class Social(Site):
    name = "social"
    title = "Circle"

    def __init__(self, emit) -> None:
        super().__init__(emit)
        self.profiles = {p.handle: p for p in PROFILES}
        self.feed: list[tuple[str, str]] = list(FEED)
        self.messages: list[tuple[str, str, str]] = list(INBOX)

    def _nav(self):
        return [
            link("Feed", "social"),
            link("Messages", "social/messages"),
            link("Settings", "social/settings"),
            textbox("Search people", "q", op="search"),
        ]

    def page(self, path: str, query: Mapping[str, str]) -> Page:
        parts = path.split("/") if path else []
        match parts:
            case []:
                posts = [paragraph(f"@{h}: {b}", 160) for h, b in self.feed[-6:][::-1]]
                people = [link(f"@{h}", self.url("profile", h)) for h in self.profiles if h != ME]
                return self.make(
                    "",
                    "Feed",
                    self._nav(),
                    textbox("New post", "body"),
                    button("Post", "post"),
                    posts,
                    text("People:"),
                    people,
                )
            case ["search"]:
                term = query.get("q", "")
                hits = [
                    p
                    for p in self.profiles.values()
                    if words_match(term, f"{p.handle} {p.name} {p.city}")
                ]
                rows = [link(f"{p.name} @{p.handle}", self.url("profile", p.handle)) for p in hits]
                return Page(
                    f"social/search?q={q(term)}",
                    f"Search - {self.title}",
                    tuple([*self._nav(), *(rows or [text("Nobody found.")])]),
                )
            case ["profile", handle] if handle in self.profiles:
                p = self.profiles[handle]
                posts = [paragraph(b, 160) for h, b in self.feed if h == handle][-3:]
                return self.make(
                    path,
                    p.name,
                    self._nav(),
                    text(f"{p.name} @{p.handle}, {p.city}"),
                    text(f"Bio: {p.bio}"),
                    posts,
                    link(f"Message @{handle}", self.url("messages", handle)),
                )
            case ["messages"]:
                peers = sorted({m[0] if m[1] == ME else m[1] for m in self.messages})
                rows = [link(f"Chat with @{h}", self.url("messages", h)) for h in peers]
                return self.make(path, "Messages", self._nav(), rows or text("No messages."))
            case ["messages", handle] if handle in self.profiles and handle != ME:
                chat = [text(f"@{a}: {b}") for a, t, b in self.messages if handle in (a, t)][-5:]
                return self.make(
                    path,
                    f"Chat with @{handle}",
                    self._nav(),
                    chat,
                    textbox("Message", "body"),
                    button("Send", "dm", handle),
                )
            case ["settings"]:
                me = self.profiles[ME]
                return self.make(
                    path,
                    "Settings",
                    self._nav(),
                    textbox("Display name", "display_name", me.name),
                    textbox("Bio", "bio", me.bio),
                    button("Save profile", "save"),
                )
        raise NotFound(path)

    def submit(self, op: str, arg: str, form: Mapping[str, str]) -> Outcome:
        if op == "search":
            return Outcome(f"social/search?q={q(form.get('q', '').strip())}")
        body = form.get("body", "").strip()
        if op == "post":
            if not body:
                raise SiteError("The post is empty.")
            self.feed.append((ME, body))
            self._emit("post_published", {"thread": "", "body": body, "author": ME})
            return Outcome("social", "Posted.")
        if op == "dm":
            if not body:
                raise SiteError("The message is empty.")
            self.messages.append((ME, arg, body))
            self._emit("message_sent", {"to": arg, "body": body})
            return Outcome(None, "Sent.")
        if op == "save":
            name, bio = form.get("display_name", "").strip(), form.get("bio", "").strip()
            if not name:
                raise SiteError("Display name cannot be empty.")
            old = self.profiles[ME]
            self.profiles[ME] = Profile(ME, name, old.city, bio)
            self._emit("profile_updated", {"display_name": name, "bio": bio})
            return Outcome(self.url("profile", ME), "Profile saved.")
        raise NotFound(op)
