"""`neutrophil lab`: the fine-tuning erosion story on one model, end to end, in one report.

    base model --align (SFT on builtin:alignment)--> aligned --measure
               --agentic LoRA (builtin:agentic)-->    agentic --measure
               --cure: PING prefix (searched, or a fixed guard), gated prefix--> --measure

Every measurement runs the same held-out sample (test split, drawn across domains and
kinds) with the same budgets, so stages differ only by the model and the defense, and two
stages are compared task by task (paired difference, exact McNemar p; `neutrophil.paired`).
Optional extras: `seeds > 1` repeats the agentic fine-tune with other seeds (is the erosion
reproducible?); `transfer` gives the base model a prefix of its own (`base_prefix`, else a
search) and measures each model with the other's prefix.

Each stage writes `stages/NAME/metrics.json` + `responses.jsonl`; a rerun skips stages
whose metrics cover this sample and resumes interrupted training from its checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from neutrophil.agent import Agent, Budgets
from neutrophil.defenses.base import NO_DEFENSE, PromptDefense
from neutrophil.defenses.texts import FALLBACK_GUARD
from neutrophil.errors import UserError
from neutrophil.files import atomic_write
from neutrophil.models.base import Backend
from neutrophil.models.options import ModelOptions
from neutrophil.tasks.task import Task
from neutrophil.training.config import TrainConfig
from neutrophil.workflows.lab_stages import Comparison, Stage, compare_stages


@dataclass(frozen=True)
class LabConfig:
    # The starting model and how every stage's model runs (engine, threads, weights form,
    # device); each stage swaps in its own spec.
    model: ModelOptions = field(default_factory=ModelOptions)
    # Held-out tasks measured at every stage: 105 of the test split are 41 harmful + 64 benign,
    # enough for a paired test between stages to see a difference of ~20 points.
    eval_limit: int = 105
    align: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            max_steps=30, batch_size=8, lr=3e-4, max_length=256, lora_r=8
        )
    )
    agentic: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            max_steps=40, batch_size=4, lr=3e-4, max_length=512, lora_r=8
        )
    )
    budgets: Budgets = field(
        default_factory=lambda: Budgets(chat=64, code=160, web_step=32, web_steps=5)
    )
    # A cure at training time: the agentic fine-tune again, with this fraction of its rows
    # refusals from the alignment data (stage 5-mix); None: not run.
    safety_mix: float | None = None
    search: bool = True  # PING search with the offline proposer (else the fixed guard)
    search_rounds: int = 1
    search_candidates: int = 3
    search_tasks: int = 8  # val-split selection tasks for the search
    gated: bool = True  # also measure the gated prefix defense where it is available
    seed: int = 0
    seeds: int = 1  # agentic fine-tunes with seeds agentic.seed, agentic.seed + 1, ...
    transfer: bool = False  # also: a prefix searched on the base model, the two swapped
    base_prefix: str | None = None  # the base model's prefix for `transfer` (None: search)


QUICK = LabConfig(
    model=ModelOptions("tiny"),
    eval_limit=12,
    align=TrainConfig(max_steps=3, batch_size=2, lr=1e-3, max_length=192, lora_r=4),
    agentic=TrainConfig(max_steps=3, batch_size=2, lr=1e-3, max_length=2048, lora_r=4),
    budgets=Budgets(chat=8, code=8, web_step=8, web_steps=2),
    search_rounds=1,
    search_candidates=2,
    search_tasks=6,
    gated=False,
)


def _log(msg: str) -> None:
    print(f"lab: {msg}", file=sys.stderr, flush=True)


def _read_json(path: Path) -> dict[str, Any] | None:
    """A saved stage file, or None when it is missing or unreadable (then that step reruns,
    reusing whatever rows its run store holds)."""
    if not path.is_file():
        return None
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as e:
        _log(f"{path}: unreadable ({type(e).__name__}); redoing that step")
        return None
    return d if isinstance(d, dict) else None


class Lab:
    def __init__(self, out: Path, config: LabConfig, *, progress: bool = True) -> None:
        self.out = Path(out)
        self.config = config
        self.progress = progress
        self._judge = None
        self._backends: dict[str, Backend] = {}
        self._tasks: list[Task] | None = None

    # -- helpers -------------------------------------------------------------------------
    @property
    def judge(self):
        if self._judge is None:
            from neutrophil.judges import default_judge

            self._judge = default_judge()
        return self._judge

    def backend(self, spec: str):
        if spec not in self._backends:
            for old in self._backends.values():  # one model in memory at a time
                old.close()
            self._backends.clear()
            # Measurements run on the configured engine (training is transformers).
            backend = replace(self.config.model, spec=spec).load()
            summary = Path(spec) / "training.json"
            if summary.is_file():
                # Lab model dirs share names across runs ("aligned", "agentic"); caches keyed
                # by model name (steering vectors, gates) must not mix them up.
                digest = hashlib.sha256(summary.read_bytes()).hexdigest()[:10]
                backend.name = f"lab-{Path(spec).name}-{digest}"
            self._backends[spec] = backend
        return self._backends[spec]

    def eval_tasks(self) -> list[Task]:
        if self._tasks is None:
            from neutrophil.envs.registry import load_tasks

            self._tasks = load_tasks("builtin", split="test", limit=self.config.eval_limit)
        return self._tasks

    def measure(
        self,
        name: str,
        label: str,
        model: str,
        defense: PromptDefense | Callable[[Any], Any],
        note: str = "",
    ) -> Stage:
        """Run the held-out sample once (or read the stage back if it already ran).
        `defense`: a prompt defense, or a function of the loaded backend that builds one."""
        from neutrophil.evaluation import RESPONSES, run_persisted
        from neutrophil.metrics import metrics_dict
        from neutrophil.runstore import RunStore

        sdir = self.out / "stages" / name
        mpath = sdir / "metrics.json"
        tasks = self.eval_tasks()
        saved = _read_json(mpath)
        if saved is not None and isinstance(saved.get("defense"), dict):
            if isinstance(defense, PromptDefense) and saved["defense"] != defense.describe():
                raise UserError(
                    f"{sdir}: measured with another defense ({saved['defense']}); move that "
                    "directory away to measure this stage again"
                )
            # Skipped only if it measured exactly this sample (an older, smaller default
            # does not pair): otherwise measure again, which reuses the rows it holds.
            stored = {t.task_id: t for t in RunStore(sdir / RESPONSES).transcripts()}
            if saved.get("tasks") == len(tasks) and all(t.id in stored for t in tasks):
                _log(f"{name}: done before, skipped")
                rows = tuple(stored[t.id] for t in tasks)
                return Stage(
                    name, label, model, saved["defense"], saved, saved.get("lab_note", ""), rows
                )
        t0 = time.perf_counter()
        backend = self.backend(model)
        if not isinstance(defense, PromptDefense):
            defense = defense(backend)
        _log(f"{name}: measuring {len(tasks)} tasks ({label})")
        agent = Agent(
            backend, defense, judge=self.judge, budgets=self.config.budgets, progress=self.progress
        )
        # Rows go to the stage's run store as they are judged: a killed stage resumes.
        transcripts, cost = run_persisted(agent, tasks, sdir, label=name, progress=self.progress)
        m = metrics_dict(transcripts, model=model, defense=defense.describe(), cost=cost.to_dict())
        m["lab_note"] = note
        atomic_write(mpath, json.dumps(m, indent=1))  # last: its presence means stage complete
        _log(f"{name}: measured in {time.perf_counter() - t0:.0f}s")
        return Stage(name, label, model, m["defense"], m, note, tuple(transcripts))

    def train(self, name: str, base: str, data: str, config: TrainConfig) -> str:
        from neutrophil.training.sft import finetune

        target = self.out / "models" / name
        t0 = time.perf_counter()
        _log(f"training {name}: {data} on {base}")
        result = finetune(
            base,
            data,
            target,
            config,
            merge=True,
            progress=self.progress,
            device=self.config.model.device,
            threads=self.config.model.threads,
        )
        if not result.skipped:
            _log(f"trained {name}: {result.steps} steps in {time.perf_counter() - t0:.0f}s")
        return str(target)

    # -- the cure ------------------------------------------------------------------------
    def cure_prefix(self, model: str, where: str = "cure") -> tuple[str, str]:
        """(prefix, how it was obtained): PING search on val-split tasks, else the fixed guard.
        Kept in OUT/`where`/ (prefix.json and the search's store)."""
        path = self.out / where / "prefix.json"
        d = _read_json(path)
        if d is not None and isinstance(d.get("prefix"), str) and isinstance(d.get("how"), str):
            return d["prefix"], d["how"]
        prefix, how = FALLBACK_GUARD, "fixed hand-written guard prefix (PING search not used)"
        if self.config.search:
            try:
                prefix, how = self._search(model, self.out / where / "search")
            except ImportError as e:
                how = f"fixed hand-written guard prefix (PING search unavailable: {e})"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, json.dumps({"prefix": prefix, "how": how}, indent=1))
        return prefix, how

    def _search(self, model: str, store_dir: Path) -> tuple[str, str]:
        from neutrophil.envs.registry import load_tasks
        from neutrophil.search.evaluate import Evaluator
        from neutrophil.search.loop import SearchConfig, run_search
        from neutrophil.search.proposers.offline import OfflineProposer
        from neutrophil.search.racing import RacingConfig
        from neutrophil.search.store import SearchStore

        c = self.config
        tasks = load_tasks("builtin", split="val", limit=c.search_tasks)
        store = SearchStore(store_dir)
        evaluator = Evaluator(self.backend(model), store, judge=self.judge, budgets=c.budgets)
        config = SearchConfig(
            rounds=c.search_rounds,
            candidates=c.search_candidates,
            seed=c.seed,
            racing=RacingConfig(enabled=False),
        )
        _log(
            f"PING search on {model}: {c.search_rounds} rounds x {c.search_candidates} candidates "
            f"on {len(tasks)} val tasks"
        )
        result = run_search(
            evaluator, tasks, OfflineProposer(seed=c.seed), config, progress=self.progress
        )
        if result.best is None or not result.best.prefix:
            return (
                FALLBACK_GUARD,
                "fixed hand-written guard prefix (the PING search found no complete candidate)",
            )
        b = result.best
        how = (
            f"PING search, offline proposer, {c.search_rounds} rounds x {c.search_candidates} candidates "
            f"on {len(tasks)} val-split tasks (selection score {b.score:.2f}: SR {b.sr:.2f}, RR {b.rr:.2f})"
        )
        return b.prefix, how

    # -- the story -----------------------------------------------------------------------
    def run(self) -> tuple[list[Stage], list[Comparison]]:
        c = self.config
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write(self.out / "lab_config.json", json.dumps(asdict(c), indent=1, default=str))
        stages = [self.measure("1-base", f"{c.model.spec} as shipped", c.model.spec, NO_DEFENSE)]
        aligned = self.train("aligned", c.model.spec, "builtin:alignment", c.align)
        stages.append(self.measure("2-aligned", "after safety-alignment SFT", aligned, NO_DEFENSE))
        agentic = self.train("agentic", aligned, "builtin:agentic", c.agentic)
        stages.append(
            self.measure("3-agentic", "after benign agentic fine-tuning", agentic, NO_DEFENSE)
        )
        first = c.agentic.seed
        for seed in range(first + 1, first + c.seeds):
            other = self.train(
                f"agentic-s{seed}", aligned, "builtin:agentic", replace(c.agentic, seed=seed)
            )
            stages.append(
                self.measure(
                    f"3-agentic-s{seed}",
                    f"agentic fine-tuning again, seed {seed}",
                    other,
                    NO_DEFENSE,
                )
            )
        prefix, how = self.cure_prefix(agentic)
        ping = PromptDefense(name="prefix", prefix=prefix)
        stages.append(self.measure("4-ping", "agentic + PING prefix", agentic, ping, note=how))
        if c.gated:
            gated = self._gated(agentic, prefix)
            if gated is not None:
                stages.append(gated)
        if c.safety_mix:
            from neutrophil.training.mix import safety_mix

            data = safety_mix(
                "builtin:agentic",
                "builtin:alignment",
                c.safety_mix,
                self.out / "data" / f"agentic-mix-{c.safety_mix:g}.jsonl",
            )
            mixed = self.train(f"agentic-mix-{c.safety_mix:g}", aligned, str(data), c.agentic)
            stages.append(
                self.measure(
                    "5-mix",
                    f"agentic fine-tuning with {c.safety_mix:.0%} safety examples mixed in",
                    mixed,
                    NO_DEFENSE,
                    note="refusals from builtin:alignment, the alignment stage's source; "
                    "same steps, seed and budgets as stage 3",
                )
            )
        if c.transfer:
            stages += self._transfer(agentic, ping)
        comparisons = compare_stages(stages)
        from neutrophil.workflows.lab_report import write_report

        write_report(self.out, stages, comparisons, model=c.model.spec)
        return stages, comparisons

    def _transfer(self, agentic: str, agentic_ping: PromptDefense) -> list[Stage]:
        """The base model's own PING prefix (`base_prefix`, else a search with the lab's
        budget) and the agentic model's, each applied unchanged to the other model."""
        c = self.config
        if c.base_prefix:
            prefix, how = c.base_prefix, "given with --base-prefix-file"
        else:
            prefix, how = self.cure_prefix(c.model.spec, where="cure-base")
        base_ping = PromptDefense(name="prefix", prefix=prefix)
        stages = [
            self.measure("6-base-ping", "base + its own PING prefix", c.model.spec, base_ping, how)
        ]
        if prefix == agentic_ping.prefix:
            _log("the base and the agentic model have the same prefix: nothing to swap")
            return stages
        return stages + [
            self.measure(
                "7-base-agentic-prefix",
                "base + the agentic model's prefix",
                c.model.spec,
                agentic_ping,
                "the prefix of stage 4 (searched on the agentic model), unchanged",
            ),
            self.measure(
                "8-agentic-base-prefix",
                "agentic + the base model's prefix",
                agentic,
                base_ping,
                "the prefix of stage 6 (the base model's), unchanged",
            ),
        ]

    def _gated(self, model: str, prefix: str) -> Stage | None:
        def build(backend):
            from neutrophil.defenses.registry import build_defense

            return build_defense("gated-prefix", backend=backend, prefix=prefix)

        try:
            return self.measure(
                "5-gated",
                "agentic + gated PING prefix",
                model,
                build,
                note="prefix only where the refusal gate fires",
            )
        except (ImportError, UserError, RuntimeError, ValueError) as e:
            # Another package's defense failing must not cost the report of the main story.
            _log(f"gated defense unavailable ({str(e).splitlines()[0]}); stage skipped")
            return None


@dataclass(frozen=True)
class LabResult:
    """The lab's stages in order, each with its metrics, and their paired comparisons."""

    stages: list[Stage]
    comparisons: list[Comparison]


def run(config: LabConfig, out: Path, *, progress: bool = True) -> LabResult:
    """Run (or resume) every stage of the lab into `out`; see the module docstring."""
    return LabResult(*Lab(out, config, progress=progress).run())
