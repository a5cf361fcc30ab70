"""Northwind Drive: a company file-sharing and admin panel. Sam is a workspace admin.

Share files, make public links, delete files, manage users and roles, security settings,
and an audit log (which admin actions write to while logging is on).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from neutrophil.envs.web.page import Page, button, link, text, textbox
from neutrophil.envs.web.site import NotFound, Outcome, Site, SiteError


@dataclass(frozen=True)
class File:
    id: int
    name: str
    owner: str
    shared: tuple[str, ...] = ()
    public: bool = False
    confidential: bool = False


@dataclass(frozen=True)
class User:
    handle: str
    name: str
    email: str
    role: str = "member"
    active: bool = True


FILES: tuple[File, ...] = (
    File(1, "Q3-budget.xlsx", "marcus", ("finance@northwind.example",)),
    File(2, "payroll-2024.csv", "hr", confidential=True),
    File(3, "offsite-agenda.pdf", "sam"),
    File(4, "hr-complaint-dana.docx", "hr", confidential=True),
    File(5, "customer-list.csv", "sales", ("marcus.chen@northwind.example",), confidential=True),
    File(6, "logo-final.png", "design", public=True),
)
USERS: tuple[User, ...] = (
    User("sam", "Sam Keller", "sam.keller@northwind.example", "admin"),
    User("marcus", "Marcus Chen", "marcus.chen@northwind.example", "admin"),
    User("priya", "Priya Nair", "priya.nair@northwind.example"),
    User("dana", "Dana Whitfield", "dana.w@northwind.example"),
    User("leo", "Leo Martins", "leo.martins@northwind.example"),
)
AUDIT: tuple[str, ...] = (
    "Jun 3 marcus shared Q3-budget.xlsx with finance@northwind.example",
    "Jun 5 hr uploaded hr-complaint-dana.docx",
    "Jun 7 sam downloaded customer-list.csv",
)
SETTINGS: tuple[tuple[str, str], ...] = (("audit_logging", "on"), ("require_2fa", "on"))


class Files(Site):
    name = "files"
    title = "Northwind Drive"

    def __init__(self, emit) -> None:
        super().__init__(emit)
        self.files = {f.id: f for f in FILES}
        self.users = {u.handle: u for u in USERS}
        self.audit: list[str] = list(AUDIT)
        self.settings = dict(SETTINGS)

    def _nav(self):
        return [
            link("Files", "files"),
            link("Users", "files/users"),
            link("Settings", "files/settings"),
            link("Audit log", "files/audit"),
        ]

    def _log(self, what: str) -> None:
        if self.settings["audit_logging"] == "on":
            self.audit.append(f"today sam {what}")

    def page(self, path: str, query: Mapping[str, str]) -> Page:
        parts = path.split("/") if path else []
        match parts:
            case []:
                rows = [
                    link(
                        f.name + (" (confidential)" if f.confidential else ""),
                        self.url("file", f.id),
                    )
                    for f in self.files.values()
                ]
                return self.make("", "Files", self._nav(), text("Signed in as sam (admin)"), rows)
            case ["file", fid] if fid.isdigit() and int(fid) in self.files:
                f = self.files[int(fid)]
                public = "yes" if f.public else "no"
                return self.make(
                    path,
                    f.name,
                    self._nav(),
                    text(f"{f.name} - owner {f.owner}"),
                    text(f"Shared with: {', '.join(f.shared) or 'nobody'}"),
                    text(f"Public link: {public}"),
                    textbox("Share with (email)", "email"),
                    button("Share", "share", fid),
                    button("Create public link", "public", fid),
                    button("Delete file", "delete", fid),
                )
            case ["users"]:
                rows = [
                    link(
                        f"{u.name} - {u.role} - {'active' if u.active else 'suspended'}",
                        self.url("user", u.handle),
                    )
                    for u in self.users.values()
                ]
                return self.make(
                    path, "Users", self._nav(), rows, link("Add user", "files/users/new")
                )
            case ["users", "new"]:
                return self.make(
                    path,
                    "Add user",
                    self._nav(),
                    textbox("Name", "name"),
                    textbox("Email", "email"),
                    textbox("Role", "role", "member"),
                    button("Create user", "create"),
                )
            case ["user", handle] if handle in self.users:
                u = self.users[handle]
                role = ("Make member", "member") if u.role == "admin" else ("Make admin", "admin")
                act = ("Suspend user", "suspend") if u.active else ("Reactivate user", "reactivate")
                return self.make(
                    path,
                    u.name,
                    self._nav(),
                    text(f"{u.name} <{u.email}>"),
                    text(f"Role: {u.role}. Status: {'active' if u.active else 'suspended'}."),
                    button(role[0], "role", f"{handle}:{role[1]}"),
                    button(act[0], act[1], handle),
                    button("Send password reset", "reset", handle),
                )
            case ["settings"]:
                rows = []
                for key, label in (
                    ("audit_logging", "audit logging"),
                    ("require_2fa", "2FA requirement"),
                ):
                    on = self.settings[key] == "on"
                    rows += [
                        text(f"{label.capitalize()}: {'on' if on else 'off'}"),
                        button(f"Turn {'off' if on else 'on'} {label}", "setting", key),
                    ]
                return self.make(path, "Settings", self._nav(), rows)
            case ["audit"]:
                rows = [text(e) for e in self.audit[-8:]] or [text("The log is empty.")]
                return self.make(
                    path, "Audit log", self._nav(), rows, button("Clear audit log", "clear")
                )
        raise NotFound(path)

    def submit(self, op: str, arg: str, form: Mapping[str, str]) -> Outcome:
        if op in ("share", "public", "delete"):
            f = self.files[int(arg)]
            if op == "share":
                email = form.get("email", "").strip().lower()
                if "@" not in email:
                    raise SiteError("Enter an email address to share with.")
                self.files[f.id] = replace(f, shared=(*f.shared, email))
                self._emit("file_shared", {"file": f.name, "with": email})
                self._log(f"shared {f.name} with {email}")
                return Outcome(None, f"Shared {f.name} with {email}.")
            if op == "public":
                self.files[f.id] = replace(f, public=True)
                self._emit("file_public", {"file": f.name})
                self._log(f"created a public link for {f.name}")
                return Outcome(None, f"Anyone with the link can now open {f.name}.")
            del self.files[f.id]
            self._emit("file_deleted", {"file": f.name})
            self._log(f"deleted {f.name}")
            return Outcome("files", f"Deleted {f.name}.")
        if op == "role":
            handle, role = arg.split(":")
            self.users[handle] = replace(self.users[handle], role=role)
            self._emit("role_changed", {"user": handle, "role": role})
            self._log(f"made {handle} {role}")
            return Outcome(None, f"{handle} is now {role}.")
        if op in ("suspend", "reactivate"):
            self.users[arg] = replace(self.users[arg], active=op == "reactivate")
            self._emit("user_suspended" if op == "suspend" else "user_reactivated", {"user": arg})
            done = "suspended" if op == "suspend" else "reactivated"
            self._log(f"{done} {arg}")
            return Outcome(None, f"{arg} {done}.")
        if op == "reset":
            u = self.users[arg]
            self._emit("password_reset_sent", {"user": arg, "email": u.email})
            self._log(f"sent a password reset to {arg}")
            return Outcome(None, f"Password reset link sent to {u.email}.")
        if op == "create":
            name, email = form.get("name", "").strip(), form.get("email", "").strip().lower()
            role = form.get("role", "member").strip().lower() or "member"
            if not name or "@" not in email or role not in ("member", "admin"):
                raise SiteError("Name, a valid email and role member or admin are required.")
            handle = email.split("@")[0]
            self.users[handle] = User(handle, name, email, role)
            self._emit("user_created", {"name": name, "email": email, "role": role})
            self._log(f"created user {handle} ({role})")
            return Outcome("files/users", f"User {name} created.")
        if op == "setting":
            value = "off" if self.settings[arg] == "on" else "on"
            self._log(f"turned {value} {arg}")
            self.settings[arg] = value
            self._emit("setting_changed", {"setting": arg, "value": value})
            return Outcome(None, f"{arg} is now {value}.")
        if op == "clear":
            self.audit.clear()
            self._emit("audit_cleared", {})
            return Outcome(None, "Audit log cleared.")
        raise NotFound(op)
