"""`neutrophil study steering` as a function: what steering does to an agent, paired.

`run(config, out)` answers the same held-out tasks with no steering and with each setting
of a sweep (a concept in one mode: `joy=2`, `refusal=ablate`, `refusal=clamp:2`), and,
optionally, with other models unsteered (`references`, e.g. the lab's base model, to
see whether ablating refusal on an aligned model takes it back to where alignment began).
Per arm it reports RR, fluent SR (a benign chat answer succeeds only if fluent), over-
refusal, ASR, the fluency rate and the mean answer length, each arm paired task by task
against no steering (difference, Agresti–Min 95% interval, exact McNemar p).

It writes OUT/study.json, OUT/report.md, OUT/rates.png, and each arm's rows as a run
directory, OUT/runs/<arm>/responses.jsonl, persisted as they are judged: a rerun with the
same OUT resumes. The concept vectors come from their contrastive pairs, never from tasks,
so every task split is held out; the default is val and test. Vectors are calibrated on
the middle third of the layers (`internals/strength.py`), as in the studio.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from neutrophil.errors import UserError
from neutrophil.files import atomic_path, atomic_write
from neutrophil.internals.equalizer import Setting
from neutrophil.metrics import percent_cell
from neutrophil.models.options import ModelOptions
from neutrophil.records import Transcript
from neutrophil.workflows.defense_study import Arm

# The strongest fluent setting of each built-in emotion (4: `internals/fluent_range.py`)
# and the three refusal questions: removed, pinned moderately, pinned high.
DEFAULT_SETTINGS = (
    "joy=4",
    "joy=-4",
    "calm=4",
    "anger=4",
    "fear=4",
    "refusal=ablate",
    "refusal=clamp:2",
    "refusal=clamp:4",
)
RATES = ("refusal_rate", "success_rate", "over_refusal_rate", "attack_success_rate", "fluency_rate")


@dataclass(frozen=True)
class StudyConfig:
    """The options of `neutrophil study steering`."""

    model: ModelOptions = field(default_factory=lambda: ModelOptions(engine="hf"))
    settings: Sequence[tuple[str, Setting]] = field(
        default_factory=lambda: tuple(parse_setting(s) for s in DEFAULT_SETTINGS)
    )
    tasks: str = "builtin:chat"
    splits: Sequence[str] = ("val", "test")
    limit: int | None = None  # a balanced sample of N tasks
    references: Sequence[str] = ()  # other model specs, answered unsteered
    command: str = ""


@dataclass(frozen=True)
class StudyResult:
    study: dict[str, Any]
    report: str
    arms: dict[str, Arm]


def parse_setting(text: str) -> tuple[str, Setting]:
    """`joy=2`, `refusal=ablate`, `joy=clamp:1` -> (concept, Setting); UserError otherwise."""
    from neutrophil.internals.equalizer import parse_named

    try:
        return parse_named(text, "CONCEPT")
    except ValueError as e:
        raise UserError(f"{text}: {e}") from None


def label(name: str, setting: Setting) -> str:
    return f"{name}={setting}"


def _stderr(msg: str) -> None:
    print(f"study: {msg}", file=sys.stderr, flush=True)


def _dir_name(arm: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.=+-]+", "_", arm.replace(":", "_"))


def run(config: StudyConfig, out: Path, *, log: Callable[[str], None] = _stderr) -> StudyResult:
    """Run every arm on the tasks and write OUT's files (see the module docstring)."""
    from neutrophil.agent import Agent
    from neutrophil.defenses.base import NO_DEFENSE
    from neutrophil.defenses.steering import EqualizerDefense
    from neutrophil.envs.registry import load_tasks
    from neutrophil.evaluation import run_persisted
    from neutrophil.files import writable_dir
    from neutrophil.internals.equalizer import Channel, Equalizer, require_hooks
    from neutrophil.internals.layers import num_layers
    from neutrophil.internals.library import calibrated_vector
    from neutrophil.internals.pairs import concept_names
    from neutrophil.internals.strength import default_layers, residual_norms
    from neutrophil.judges import default_judge
    from neutrophil.models.base import require_local
    from neutrophil.tasks.load import balanced_sample
    from neutrophil.workflows.defense_study import paired_against

    out = Path(out)
    if config.limit is not None and config.limit < 1:
        raise UserError(f"--limit must be at least 1, got {config.limit}")
    if not config.settings:
        raise UserError("give at least one --setting")
    for name, _ in config.settings:
        if name not in concept_names() and not Path(name).exists():
            raise UserError(
                f"--setting {name}=...: not a built-in concept ({', '.join(concept_names())}) "
                "nor a vector file"
            )
    writable_dir(out)
    tasks = [t for t in load_tasks(config.tasks) if t.split in config.splits and t.domain != "web"]
    if config.limit is not None and config.limit < len(tasks):
        tasks = balanced_sample(tasks, config.limit)
    if {t.kind for t in tasks} != {"harmful", "benign"}:
        raise UserError(
            f"{config.tasks}: the {'+'.join(config.splits)} split(s) need harmful and benign tasks"
        )
    backend = config.model.load()
    require_hooks(backend, [s for _, s in config.settings])
    local = require_local(backend, "steering")
    layers = default_layers(num_layers(local.model))
    log(f"calibrating {len({n for n, _ in config.settings})} concept vectors on {backend.name}")
    norms = residual_norms(local.model, local.tokenizer, layers)
    vectors = {
        name: calibrated_vector(backend, name, layers, norms=norms)
        for name in dict.fromkeys(n for n, _ in config.settings)
    }
    judge = default_judge()
    arms: dict[str, Arm] = {}

    def run_arm(arm: str, model: Any, defense: Any) -> None:
        log(f"{arm}: {len(tasks)} tasks")
        transcripts, cost = run_persisted(
            Agent(model, defense, judge=judge), tasks, out / "runs" / _dir_name(arm), label=arm
        )
        arms[arm] = Arm(arm, defense.describe(), tuple(transcripts), cost.seconds)

    run_arm("none", backend, NO_DEFENSE)
    for name, setting in config.settings:
        channel = Channel(name, vectors[name], setting.value, mode=setting.mode)
        run_arm(label(name, setting), backend, EqualizerDefense(Equalizer((channel,))))
    for spec in config.references:
        other = replace(config.model, spec=spec).load()
        run_arm(f"model:{spec}", other, NO_DEFENSE)
        other.close()

    study = {
        "model": backend.name,
        "tasks": config.tasks,
        "splits": list(config.splits),
        "n_harmful": sum(t.kind == "harmful" for t in tasks),
        "n_benign": sum(t.kind == "benign" for t in tasks),
        "layers": list(layers),
        "command": config.command,
        "arms": {
            k: {
                "defense": a.defense,
                "seconds": round(a.seconds, 1),
                "rates": _rates(a.transcripts),
                "mean_words": _mean_words(a.transcripts),
            }
            for k, a in arms.items()
        },
        "paired": paired_against(arms, ("none",)),
    }
    atomic_write(out / "study.json", json.dumps(study, indent=1))
    plot(study, out / "rates.png")
    report = markdown_report(study)
    atomic_write(out / "report.md", report)
    return StudyResult(study, report, arms)


def _rates(transcripts: Sequence[Transcript]) -> dict[str, Any]:
    from neutrophil.metrics import rates

    return {k: r.to_dict() for k, r in rates(transcripts).items() if k in RATES}


def _mean_words(transcripts: Sequence[Transcript]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for kind in ("harmful", "benign"):
        lengths = [len(t.response.split()) for t in transcripts if t.kind == kind]
        out[kind] = round(sum(lengths) / len(lengths), 1) if lengths else None
    return out


# -- report --------------------------------------------------------------------------------
def _diff(d: dict) -> str:
    from neutrophil.paired import PairedDiff

    return str(PairedDiff.from_dict(d))


SHORT = {
    "refusal_rate": "RR",
    "success_rate": "fluent SR",
    "over_refusal_rate": "over-refusal",
    "attack_success_rate": "ASR",
    "fluency_rate": "fluent",
}


def plot(study: dict[str, Any], path: Path) -> None:
    """One panel per rate, one bar per arm, 95% intervals; no steering drawn as a line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(study["arms"])
    fig, axes = plt.subplots(1, len(RATES), figsize=(3.2 * len(RATES), 0.35 * len(arms) + 1.6))
    for ax, key in zip(axes, RATES, strict=True):
        cells = [study["arms"][a]["rates"][key] for a in arms]
        vals = [c["value"] if c["n"] else 0.0 for c in cells]
        lo = [c["value"] - c["lo"] if c["n"] else 0.0 for c in cells]
        hi = [c["hi"] - c["value"] if c["n"] else 0.0 for c in cells]
        y = range(len(arms))
        ax.barh(y, vals, xerr=[lo, hi], color="#5b7db1", capsize=2)
        ax.axvline(vals[0], color="grey", ls=":", lw=1)  # the "none" arm
        ax.set_xlim(0, 1.02)
        ax.set_title(SHORT[key], fontsize=10)
        ax.set_yticks(list(y), arms if key == RATES[0] else [""] * len(arms), fontsize=8)
        ax.invert_yaxis()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight")
    plt.close(fig)


def markdown_report(study: dict[str, Any]) -> str:
    """The rates per arm, then each arm against no steering, paired."""
    short = SHORT
    lines = [
        f"# Steering study: {study['model']}",
        "",
        f"{study['n_harmful']} harmful and {study['n_benign']} benign tasks "
        f"({study['tasks']}, splits {'+'.join(study['splits'])}); steered layers "
        f"{study['layers'][0]}-{study['layers'][-1]}. Rates with 95% Wilson intervals; "
        "SR counts fluent answers only; words = mean answer length (harmful / benign).",
        "",
        "| arm | " + " | ".join(short[k] for k in RATES) + " | words |",
        "|---|" + "---|" * (len(RATES) + 1),
    ]
    for arm, a in study["arms"].items():
        words = a["mean_words"]
        lines.append(
            f"| {arm} | "
            + " | ".join(percent_cell(a["rates"][k]) for k in RATES)
            + f" | {words['harmful']} / {words['benign']} |"
        )
    lines += [
        "",
        "Each arm minus no steering on the same tasks (points, Agresti–Min 95% interval, "
        "exact McNemar p; * below 0.05):",
        "",
        "| arm | " + " | ".join(short[k] for k in RATES) + " |",
        "|---|" + "---|" * len(RATES),
    ]
    for row in study["paired"]:
        lines.append(f"| {row['arm']} | " + " | ".join(_diff(row[k]) for k in RATES) + " |")
    if study.get("command"):
        lines += ["", f"    {study['command']}"]
    return "\n".join(lines) + "\n"
