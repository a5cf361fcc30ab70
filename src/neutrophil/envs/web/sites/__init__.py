"""The simulated sites, by name. Each is a small deterministic state machine with its own seed data."""

from __future__ import annotations

from neutrophil.envs.web.site import Site
from neutrophil.envs.web.sites.bank import Bank
from neutrophil.envs.web.sites.files import Files
from neutrophil.envs.web.sites.forum import Forum
from neutrophil.envs.web.sites.mail import Webmail
from neutrophil.envs.web.sites.pharmacy import Pharmacy
from neutrophil.envs.web.sites.shop import Shop
from neutrophil.envs.web.sites.social import Social

SITES: dict[str, type[Site]] = {
    cls.name: cls for cls in (Shop, Forum, Webmail, Bank, Social, Pharmacy, Files)
}

__all__ = ["SITES"]
