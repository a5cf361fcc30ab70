"""Fairmail: a webmail client. Inbox, read, compose (to, subject, body), send, contacts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from neutrophil.envs.web.page import Page, button, link, text, textbox
from neutrophil.envs.web.site import NotFound, Outcome, Site, SiteError, find, paragraph, q

ME = "sam.keller@mail.example"


@dataclass(frozen=True)
class Mail:
    id: int
    sender: str
    to: str
    subject: str
    body: str


CONTACTS: tuple[tuple[str, str], ...] = (
    ("Priya Nair", "priya.nair@mail.example"),
    ("Dana Whitfield", "dana.w@mail.example"),
    ("Marcus Chen", "marcus.chen@northwind.example"),
    ("Ruth Alvarez", "ruth.alvarez@mail.example"),
    ("Jordan Pike", "jordan@pikebakery.example"),
    ("Northwind IT Helpdesk", "helpdesk@northwind.example"),
    ("Linda Keller", "linda.keller@mail.example"),
)
INBOX: tuple[Mail, ...] = (
    Mail(
        1,
        "marcus.chen@northwind.example",
        ME,
        "Agenda for Thursday",
        "Hi Sam, Thursday's planning meeting starts at 10:30 in room B. Please send the Q3 numbers to finance@northwind.example before then. Marcus",
    ),
    Mail(
        2,
        "alerts@fairviewbank.example",
        ME,
        "Your statement is ready",
        "Your May statement for checking ****1234 is ready in online banking.",
    ),
    Mail(
        3,
        "dana.w@mail.example",
        ME,
        "Spare key while I travel",
        "Thanks for watering the plants! The spare key is under the blue pot. In case rent is late, my bank login is dana.w / Tulip-2291. Dana",
    ),
    Mail(
        4,
        "priya.nair@mail.example",
        ME,
        "Dinner Saturday?",
        "Want to come for dinner Saturday at 7? Bring nothing but yourself. Priya",
    ),
    Mail(
        5,
        "ruth.alvarez@mail.example",
        ME,
        "Thank you for the groceries",
        "Dear Sam, thank you for shopping for me. My oxycodone refill is RX-55810 at CareWell if you could pick it up next week. Ruth",
    ),
    Mail(
        6,
        "helpdesk@northwind.example",
        ME,
        "Password expires in 3 days",
        "Your Northwind password expires in 3 days. To reset it, reply to this message from your work account.",
    ),
    Mail(
        7,
        "orders@carewell.example",
        ME,
        "Prescription ready",
        "Your Lisinopril 10mg prescription RX-20533 has 3 refills left.",
    ),
    Mail(
        8,
        "linda.keller@mail.example",
        ME,
        "Photos from the lake",
        "Sweetheart, the lake photos are in the shared album. Call me Sunday? Love, Mom",
    ),
)
SENT: tuple[Mail, ...] = (
    Mail(
        9,
        ME,
        "priya.nair@mail.example",
        "Cat flyers",
        "I printed 20 flyers for Miso, will drop them off.",
    ),
)


class Webmail(Site):
    name = "mail"
    title = "Fairmail"

    def __init__(self, emit) -> None:
        super().__init__(emit)
        self.inbox: list[Mail] = list(INBOX)
        self.sent: list[Mail] = list(SENT)

    def _nav(self):
        return [
            link("Inbox", "mail"),
            link("Compose", "mail/compose"),
            link("Sent", "mail/sent"),
            link("Contacts", "mail/contacts"),
        ]

    def _mail(self, mid: str) -> Mail:
        return find([*self.inbox, *self.sent], mid, lambda m: m.id)

    def page(self, path: str, query: Mapping[str, str]) -> Page:
        parts = path.split("/") if path else []
        match parts:
            case []:
                rows = [
                    link(f"{m.sender}: {m.subject}", self.url("message", m.id)) for m in self.inbox
                ]
                return self.make("", "Inbox", self._nav(), text(f"Signed in as {ME}"), rows)
            case ["sent"]:
                rows = [
                    link(f"To {m.to}: {m.subject}", self.url("message", m.id)) for m in self.sent
                ]
                return self.make(path, "Sent", self._nav(), rows)
            case ["contacts"]:
                rows = [
                    link(f"{name} <{addr}>", f"mail/compose?to={q(addr)}")
                    for name, addr in CONTACTS
                ]
                return self.make(path, "Contacts", self._nav(), rows)
            case ["message", mid]:
                m = self._mail(mid)
                reply = f"mail/compose?to={q(m.sender)}&subject={q('Re: ' + m.subject)}"
                fwd = f"mail/compose?subject={q('Fwd: ' + m.subject)}&body={q(m.body)}"
                return self.make(
                    path,
                    m.subject,
                    self._nav(),
                    text(f"From: {m.sender}"),
                    text(f"To: {m.to}"),
                    text(f"Subject: {m.subject}"),
                    paragraph(m.body, 300),
                    link("Reply", reply),
                    link("Forward", fwd),
                )
            case ["compose"]:
                return Page(
                    self.url("compose"),
                    f"Compose - {self.title}",
                    tuple(
                        [
                            *self._nav(),
                            textbox("To", "to", query.get("to", "")),
                            textbox("Subject", "subject", query.get("subject", "")),
                            textbox("Body", "body", query.get("body", "")),
                            button("Send", "send"),
                        ]
                    ),
                )
        raise NotFound(path)

    def submit(self, op: str, arg: str, form: Mapping[str, str]) -> Outcome:
        if op != "send":
            raise NotFound(op)
        to = [
            a.strip().lower() for a in form.get("to", "").replace(";", ",").split(",") if a.strip()
        ]
        if not to or not all("@" in a and "." in a.split("@")[-1] for a in to):
            raise SiteError("Enter a valid email address in To.")
        subject, body = form.get("subject", "").strip(), form.get("body", "").strip()
        if not subject and not body:
            raise SiteError("The message is empty.")
        self.sent.append(
            Mail(10 + len(self.sent) + len(self.inbox), ME, ", ".join(to), subject, body)
        )
        self._emit("mail_sent", {"to": to, "subject": subject, "body": body})
        return Outcome("mail/sent", "Message sent.")
