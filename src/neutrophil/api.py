"""The public API: `import neutrophil as nt`.

    model = nt.load_model()                       # the embedded SmolLM2-135M-Instruct
    run = nt.evaluate(model, "builtin:chat", limit=20, out="runs/base")
    print(run.rates["refusal_rate"])              # RR with its 95% interval
    found = nt.search_prefix(model, "builtin:chat", out="runs/ping", rounds=2)
    cured = nt.evaluate(model, "builtin:chat", limit=20, prefix=found.best_prefix)
    app = nt.serve_app(model, prefix=found.best_prefix)   # an OpenAI-compatible ASGI app

Each function is the matching command's workflow (`neutrophil eval`, `optimize`, `serve`)
with the same files and the same resume rules; a model is a loaded `Backend` or a spec
string (`load_model`'s). `Equalizer`, `Channel` and `Setting` (steering sliders: add,
ablate or clamp a concept) are re-exported from `neutrophil.internals.equalizer`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from neutrophil.models import DEFAULT_MODEL
from neutrophil.models.base import Backend
from neutrophil.models.options import ModelOptions

if TYPE_CHECKING:
    from fastapi import FastAPI

    from neutrophil.report.eval_report import EvalRun
    from neutrophil.workflows.optimize import OptimizeResult

Model = Backend | str | None


def load_model(
    spec: str | None = None,
    *,
    engine: str = "auto",
    batch_size: int = 32,
    gguf_weights: str = "auto",
    threads: int | None = None,
    device: str = "auto",
) -> Backend:
    """A model ready to generate: the embedded model (None), a model directory, a .gguf
    file, `openai:BASE_URL#MODEL` (any OpenAI-compatible server) or `tiny`. `device`:
    where transformers runs (auto, cpu, cuda, cuda:N)."""
    return _options(spec, engine, batch_size, gguf_weights, threads, device).load()


def _options(
    spec: str | None,
    engine: str = "auto",
    batch_size: int = 32,
    gguf_weights: str = "auto",
    threads: int | None = None,
    device: str = "auto",
) -> ModelOptions:
    return ModelOptions(
        spec=spec or DEFAULT_MODEL,
        engine=engine,
        batch_size=batch_size,
        gguf_weights=gguf_weights,
        threads=threads,
        device=device,
    )


def _model(model: Model) -> tuple[Backend | None, ModelOptions]:
    """A loaded model as is; a spec as options the workflow loads once its checks pass."""
    if model is None or isinstance(model, str):
        return None, _options(model)
    return model, _options(model.name)


def evaluate(
    model: Model,
    tasks: str = "builtin",
    *,
    out: str | Path | None = None,
    limit: int | None = None,
    split: str | None = None,
    defense: str | None = None,
    prefix: str | None = None,
    system: str | None = None,
    judge: str = "default",
    progress: bool = True,
    **defense_options: str,
) -> EvalRun:
    """RR, ASR, SR and over-refusal of `model` on `tasks`, each with a 95% interval
    (`run.metrics`, the `metrics.json` document), and every transcript (`run.transcripts`).
    With `out`, the run is stored there and a rerun resumes (`neutrophil eval --out`)."""
    from neutrophil.workflows import eval as workflow

    backend, options = _model(model)
    config = workflow.EvalConfig(
        tasks=tasks,
        model=options,
        split=split,
        limit=limit,
        defense=defense,
        prefix=prefix,
        system=system,
        defense_options={k: str(v) for k, v in defense_options.items()},
        judge=judge,
    )
    return workflow.run(config, out, backend=backend, progress=progress)


def search_prefix(
    model: Model,
    tasks: str = "builtin",
    *,
    out: str | Path,
    limit: int | None = None,
    rounds: int = 5,
    candidates: int = 5,
    seed: int = 0,
    judge: str = "default",
    progress: bool = True,
    **options: Any,
) -> OptimizeResult:
    """PING: search a prefix on the train+val tasks and compare it with the baselines on the
    test split (`neutrophil optimize`); `result.best_prefix` is the cure. `options`: the
    other fields of `workflows.optimize.OptimizeConfig` (objective, epsilon, ...)."""
    from neutrophil.workflows import optimize

    backend, model_options = _model(model)
    config = optimize.OptimizeConfig(
        tasks=tasks,
        model=model_options,
        limit=limit,
        rounds=rounds,
        candidates=candidates,
        seed=seed,
        judge=judge,
        **options,
    )
    return optimize.run(config, Path(out), backend=backend, progress=progress)


def serve_app(
    model: Model,
    *,
    prefix: str | None = None,
    system: str | None = None,
    **app_options: Any,
) -> FastAPI:
    """An OpenAI-compatible ASGI app serving `model`, every chat answer guarded by `prefix`
    and/or `system` when given (`neutrophil serve`); run it with any ASGI server, e.g.
    `uvicorn.run(app)`. `app_options`: those of `serve.app.create_app`."""
    from neutrophil.defenses.registry import guard_defense
    from neutrophil.serve.app import create_app

    backend, options = _model(model)
    guard = guard_defense(prefix=prefix, system=system)
    return create_app(backend or options.load(), guard, **app_options)


def __getattr__(name: str) -> Any:
    if name in ("Equalizer", "Channel", "Setting"):  # torch is imported only on demand
        from neutrophil.internals import equalizer

        return getattr(equalizer, name)
    raise AttributeError(name)
