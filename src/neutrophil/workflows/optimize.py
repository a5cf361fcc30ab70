"""`neutrophil optimize` as a function: search a PING prefix on the train+val tasks, then
compare it with the baselines on the test split.

`run(config, out)` writes OUT/settings.json (what a rerun must match to resume),
OUT/verdicts.jsonl (the search store), best_prefix.txt, history.jsonl, metrics.json and
report.html. A rerun with the same settings and OUT resumes from the store without
regenerating anything; other settings are refused.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neutrophil.errors import BackendError, UserError
from neutrophil.models.base import Backend
from neutrophil.models.options import ModelOptions


@dataclass(frozen=True)
class OptimizeConfig:
    """The options of one search (the flags of `neutrophil optimize`)."""

    tasks: str  # task file or builtin[:DOMAIN]; needs train/val and test tasks
    model: ModelOptions = field(default_factory=ModelOptions)
    kind: str | None = None  # kind of the prompts in a .txt task file
    domain: str | None = None  # domain of the prompts in a .txt task file
    limit: int | None = None  # balanced samples of at most N selection (and test) tasks
    test_limit: int | None = None  # test tasks for the report (None: `limit`; 0: all of them)
    proposer: str = "offline"  # offline, or a model spec that writes candidates
    rounds: int = 5
    candidates: int = 5  # per round
    seed: int = 0
    objective: str = "sum"  # sum: SR + RR; constrained: max RR with SR >= undefended - eps
    epsilon: float = 0.05
    over_penalty: float = 0.0  # W x borderline refusal subtracted from the score
    racing: bool = True
    racing_z: float = 1.64
    judge: str = "default"  # default, patterns, or llm:SPEC
    # Hardening: attack sources (`neutrophil attack`'s) whose families wrap the harmful
    # selection tasks, added beside the plain ones; the test split stays plain.
    attacks: tuple[str, ...] = ()
    command: str = ""  # the command line the report shows (empty from Python)


@dataclass(frozen=True)
class OptimizeResult:
    """What one search found and how it compares on the test split."""

    best_prefix: str
    # (label, metrics.json-shaped document) per compared defense, no defense first
    compared: list[tuple[str, dict[str, Any]]]
    metrics: dict[str, Any]  # what OUT/metrics.json holds
    selection_tasks: int
    test_tasks: int


def _stderr(msg: str) -> None:
    print(f"optimize: {msg}", file=sys.stderr, flush=True)


def check(config: OptimizeConfig, out: Path) -> None:
    """Refuse bad settings before anything loads: one line each."""
    from neutrophil.files import writable_dir

    values = {
        "rounds": config.rounds,
        "candidates": config.candidates,
        "limit": config.limit,
        "batch_size": config.model.batch_size,
    }
    for name, value in values.items():
        if value is not None and value < 1:
            raise UserError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    if config.test_limit is not None and config.test_limit < 0:
        raise UserError(f"--test-limit must be 0 (all) or more, got {config.test_limit}")
    if not 0 <= config.epsilon <= 1:
        raise UserError(f"--epsilon must be between 0 and 1, got {config.epsilon}")
    if config.over_penalty < 0 or config.racing_z <= 0:
        raise UserError("--over-penalty must be >= 0 and --racing-z > 0")
    writable_dir(out)  # before any work: a search must not end unable to save


def settings(config: OptimizeConfig, n_select: int) -> dict[str, Any]:
    """What must match for a rerun on the same OUT to be a resume of the same search. The
    test sample is not part of it: a rerun with another --test-limit reuses the search and
    the held-out verdicts it shares."""
    hardened = {"attacks": list(config.attacks)} if config.attacks else {}
    return {
        **hardened,  # absent when plain: older directories still resume
        "model": config.model.spec,
        "tasks": config.tasks,
        "limit": config.limit,
        "proposer": config.proposer,
        "candidates": config.candidates,
        "seed": config.seed,
        "objective": config.objective,
        "epsilon": config.epsilon,
        "over_penalty": config.over_penalty,
        "racing": config.racing_z if config.racing else None,
        "judge": config.judge,
        "selection_tasks": n_select,
    }


def _resume_check(out: Path, settings: dict[str, Any]) -> None:
    from neutrophil.files import atomic_write, parse_json, read_text

    path = out / "settings.json"
    if path.exists():
        old = parse_json(read_text(path, "settings file"), str(path))
        if not isinstance(old, dict):
            raise UserError(f"{path}: expected a JSON object; use a new --out")
        diff = sorted(k for k in settings if old.get(k) != settings[k])
        if diff:
            raise UserError(
                f"{out}: holds a search with other settings ({', '.join(diff)}); use a new --out"
            )
    else:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps(settings, indent=1))


def _no_candidate(notes: list[str]) -> None:
    """Say why no prefix was scored: a proposer that failed is not one that proposed nothing."""
    failed = [n for n in notes if "proposer call failed" in n]
    if failed:
        raise BackendError(f"the proposer produced no candidates ({failed[0]})")
    why = f": {notes[0]}" if notes else ""
    raise UserError(
        f"no candidate prefix was scored on every selection task (the proposer returned no "
        f"usable candidates{why})"
    )


def _split(config: OptimizeConfig) -> tuple[list, list]:
    """(selection tasks from train+val, report tasks from test), each sampled to its limit."""
    from neutrophil.envs.registry import load_tasks
    from neutrophil.tasks.load import balanced_sample

    tasks = load_tasks(config.tasks, kind=config.kind, domain=config.domain)
    select = [t for t in tasks if t.split in ("train", "val")]
    test = [t for t in tasks if t.split == "test"]
    if not select or not test:
        raise UserError(
            f"{config.tasks}: needs tasks in train/val (selection) and in test (report)"
        )
    # SR + RR is the objective: selection tasks without both kinds cannot score a candidate
    # (the test split only reports, and a missing kind shows there as n/a).
    missing = [k for k in ("harmful", "benign") if not any(t.kind == k for t in select)]
    if missing:
        raise UserError(
            f"{config.tasks}: no {' and no '.join(missing)} tasks in train/val; the search "
            "scores refusal on harmful and success on benign tasks, so it needs both"
        )
    if config.limit and config.limit < len(select):
        select = balanced_sample(select, config.limit)
    if config.attacks:
        select = [*select, *_attacked(config, [t for t in select if t.kind == "harmful"])]
    n_test = config.limit if config.test_limit is None else config.test_limit
    if n_test and n_test < len(test):
        test = balanced_sample(test, n_test)
    return select, test


def _attacked(config: OptimizeConfig, harmful: list) -> list:
    """Each harmful selection task wrapped by every family of `config.attacks` (a family's
    templates taken in turn)."""
    from neutrophil.attacks import load_attacks

    families: dict[str, list] = {}
    for a in load_attacks(list(config.attacks), seed=config.seed):
        families.setdefault(a.family, []).append(a)
    return [fa[i % len(fa)].apply(t) for fa in families.values() for i, t in enumerate(harmful)]


def run(
    config: OptimizeConfig,
    out: Path,
    *,
    backend: Backend | None = None,
    progress: bool = True,
    log: Callable[[str], None] = _stderr,
) -> OptimizeResult:
    """Search, compare on the test split, write OUT's files (see module docstring).
    `backend`: an already loaded model instead of `config.model`; `progress` shows progress
    bars; `log` gets one line when a run resumes."""
    from neutrophil.judges.select import judge_from_name
    from neutrophil.models import load_backend
    from neutrophil.search import (
        Evaluator,
        LLMProposer,
        Objective,
        OfflineProposer,
        RacingConfig,
        SearchConfig,
        SearchStore,
        comparison_defenses,
        held_out_metrics,
        run_search,
    )
    from neutrophil.search.report import render

    out = Path(out)
    check(config, out)
    select, test = _split(config)
    _resume_check(out, settings(config, len(select)))

    judge = judge_from_name(config.judge, device=config.model.device)
    backend = backend if backend is not None else config.model.load()
    if config.proposer == "offline":
        proposer = OfflineProposer(config.seed)
    else:
        # The model under search writes its own candidates without a second copy in memory.
        same = config.proposer == config.model.spec
        proposer = LLMProposer(
            backend if same else load_backend(config.proposer, device=config.model.device)
        )
    store = SearchStore(out)
    if len(store):
        log(f"resuming: {len(store)} verdicts already in {store.verdict_path}")
    evaluator = Evaluator(backend, store, judge=judge, progress=progress)
    search_config = SearchConfig(
        rounds=config.rounds,
        candidates=config.candidates,
        seed=config.seed,
        objective=Objective(
            mode=config.objective, epsilon=config.epsilon, w_over=config.over_penalty
        ),
        racing=RacingConfig(enabled=config.racing, z=config.racing_z),
    )
    result = run_search(evaluator, select, proposer, search_config, progress=progress)
    if result.best is None:
        _no_candidate(result.notes)
    best = result.best_prefix
    store.write_text("best_prefix.txt", best + "\n")
    store.write_text(
        "history.jsonl", "".join(json.dumps(h, ensure_ascii=False) + "\n" for h in result.history)
    )

    compared = held_out_metrics(evaluator, test, comparison_defenses(best))
    ping = dict(compared[-1][1])
    prompt_tokens, generated_tokens = store.tokens()
    cost = {
        "verdicts": len(store),
        "prompt_tokens": prompt_tokens,
        "generated_tokens": generated_tokens,
        "seconds_this_run": round(evaluator.cost.seconds, 1),
        "generated_this_run": evaluator.cost.rows,
        "read_from_store_this_run": evaluator.cost.cached,
    }
    ping["split"] = "test"
    ping["cost"] = cost
    ping["baselines"] = {label: m["rates"] for label, m in compared}
    # Every row minus no defense, task by task (Agresti–Min interval, exact McNemar p).
    ping["paired_vs_no_defense"] = {label: m["paired_vs_first"] for label, m in compared[1:]}
    ping["search"] = {
        "objective": result.objective.describe(),
        "rounds": config.rounds,
        "candidates": len(result.history),
        "selection_tasks": len(select),
        "best": {
            k: getattr(result.best, k) for k in ("sr", "rr", "borderline_refusal", "score", "round")
        },
        "undefended": {
            k: getattr(result.baseline, k) for k in ("sr", "rr", "borderline_refusal", "score")
        },
    }
    store.write_text("metrics.json", json.dumps(ping, indent=1, ensure_ascii=False))
    store.write_text(
        "report.html",
        render(
            model=backend.name,
            best=best,
            objective=result.objective.describe(),
            history=result.history,
            baselines=compared,
            cost=cost,
            command=config.command,
        ),
    )
    return OptimizeResult(
        best_prefix=best,
        compared=compared,
        metrics=ping,
        selection_tasks=len(select),
        test_tasks=len(test),
    )
