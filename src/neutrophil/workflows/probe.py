"""`neutrophil probe` as a function: where does the model represent harm?

1. Per-layer logistic probes, harmful vs benign, at the last prompt token (the end of the
   assistant header), trained on the train split, scored (accuracy, AUROC) on the test split.
2. A token-position scan of one layer's probe logit through prompt, assistant header and
   prefix.
3. The final-token probe logit with no defense, with the prefix injected at the start of
   the assistant turn, and with the same text appended to the user turn as a suffix.

`run(config, out)` writes OUT/probe.json and OUT/report.html and returns the study.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from neutrophil.errors import UserError
from neutrophil.internals.capture import capture, capture_tokens
from neutrophil.internals.probes import LinearProbe, fit_layer_probes
from neutrophil.internals.render import chat_parts, chat_prompt
from neutrophil.models.options import ModelOptions
from neutrophil.tasks.task import Task


def _labels(tasks: Sequence[Task]) -> torch.Tensor:
    return torch.tensor([1.0 if t.kind == "harmful" else 0.0 for t in tasks])


def layer_probes(
    model, tokenizer, train: Sequence[Task], test: Sequence[Task], layers=None, batch_size=16
):
    """(probes by layer, per-layer scores) at the last prompt token."""
    render = lambda ts: [chat_prompt(tokenizer, t.prompt, t.system) for t in ts]  # noqa: E731
    tr = capture(model, tokenizer, render(train), layers=layers, batch_size=batch_size)
    te = capture(model, tokenizer, render(test), layers=tr.layers, batch_size=batch_size)
    return fit_layer_probes(tr.acts, _labels(train), te.acts, _labels(test), tr.layers)


def position_scan(
    model,
    tokenizer,
    probe: LinearProbe,
    layer: int,
    tasks: Sequence[Task],
    prefix: str,
    batch_size=16,
) -> list[dict]:
    """Per task: tokens, probe logit at each token, and the segment of each token."""
    parts = [chat_parts(tokenizer, t.prompt, t.system) for t in tasks]
    rows = capture_tokens(
        model,
        tokenizer,
        [b + h for b, h in parts],
        [prefix] * len(tasks),
        layers=[layer],
        batch_size=batch_size,
    )
    out = []
    for t, (bare, _), row in zip(tasks, parts, rows, strict=True):
        n_bare = len(tokenizer(bare, add_special_tokens=False)["input_ids"])
        seg = [
            "prompt" if i < n_bare else "header" if i < row.prompt_len else "prefix"
            for i in range(len(row.tokens))
        ]
        out.append(
            {
                "task_id": t.id,
                "kind": t.kind,
                "tokens": [tokenizer.decode([i]) for i in row.tokens],
                "segment": seg,
                "logit": probe.logits(row.layer(layer)).tolist(),
            }
        )
    return out


def placement_logits(
    model,
    tokenizer,
    probe: LinearProbe,
    layer: int,
    tasks: Sequence[Task],
    prefix: str,
    batch_size=16,
) -> dict[str, np.ndarray]:
    """Final-token logit per task: no defense, prefix (assistant turn), suffix (user turn)."""
    base = [chat_prompt(tokenizer, t.prompt, t.system) for t in tasks]
    suffixed = [chat_prompt(tokenizer, f"{t.prompt}\n\n{prefix}", t.system) for t in tasks]
    n = len(tasks)
    cap = capture(
        model,
        tokenizer,
        base * 2 + suffixed,
        [""] * n + [prefix] * n + [""] * n,
        layers=[layer],
        batch_size=batch_size,
    )
    logit = probe.logits(cap.layer(layer)).numpy()
    return {"none": logit[:n], "prefix": logit[n : 2 * n], "suffix": logit[2 * n :]}


def run_study(
    model,
    tokenizer,
    train: Sequence[Task],
    test: Sequence[Task],
    *,
    prefix: str,
    layers=None,
    scan_layer: int | None = None,
    scan_examples: int = 4,
    batch_size: int = 16,
    progress: Callable[[str], None] = lambda _msg: None,
) -> tuple[dict, dict[int, LinearProbe]]:
    progress("fitting per-layer probes")
    probes, scores = layer_probes(model, tokenizer, train, test, layers, batch_size)
    best = max(scores, key=lambda s: (np.nan_to_num(s.auroc), s.accuracy)).layer
    layer = best if scan_layer is None else scan_layer
    if layer not in probes:
        raise ValueError(f"scan layer {layer} was not probed")
    probe = probes[layer]
    harmful = [t for t in test if t.kind == "harmful"]
    benign = [t for t in test if t.kind == "benign"]
    progress(f"position scan at layer {layer}")
    scan = position_scan(
        model,
        tokenizer,
        probe,
        layer,
        harmful[:scan_examples] + benign[:scan_examples],
        prefix,
        batch_size,
    )
    progress("prefix vs suffix")
    placement = {}
    for kind, ts in (("harmful", harmful), ("benign", benign)):
        if ts:
            logits = placement_logits(model, tokenizer, probe, layer, ts, prefix, batch_size)
            placement[kind] = {
                k: {
                    "mean_logit": float(v.mean()),
                    "flagged": float((v > 0).mean()),
                    "logits": v.tolist(),
                }
                for k, v in logits.items()
            }
    result = {
        "layers": [asdict(s) for s in scores],
        "best_layer": best,
        "scan_layer": layer,
        "prefix": prefix,
        "n_train": len(train),
        "n_test": len(test),
        "scan": scan,
        "placement": placement,
    }
    return result, probes


@dataclass(frozen=True)
class ProbeConfig:
    """The options of one probe study (the flags of `neutrophil probe`)."""

    model: ModelOptions = field(default_factory=ModelOptions)
    tasks: str = "builtin:chat"  # needs harmful and benign tasks in train and test
    prefix: str | None = None  # the text compared as prefix and suffix (None: PROBE_PREFIX)
    layers: str | None = None  # e.g. "8-20" or "2,4,6" (None: every layer)
    scan_layer: int | None = None  # the layer scanned token by token (None: best AUROC)
    limit: int | None = None  # at most N tasks per split


def run(
    config: ProbeConfig,
    out: Path | str,
    *,
    progress: Callable[[str], None] = lambda _msg: None,
) -> dict[str, Any]:
    """The study, written as OUT/probe.json and OUT/report.html (see module docstring)."""
    from neutrophil.defenses.texts import PROBE_PREFIX
    from neutrophil.envs.registry import load_tasks
    from neutrophil.files import atomic_write, writable_dir
    from neutrophil.internals.layers import check_layers, num_layers, parse_layer_spec
    from neutrophil.internals.probe_report import render_html
    from neutrophil.models.base import require_local

    out = writable_dir(out)
    if config.limit is not None and config.limit < 1:
        raise UserError(f"--limit must be at least 1, got {config.limit}")
    train = load_tasks(config.tasks, split="train", limit=config.limit)
    test = load_tasks(config.tasks, split="test", limit=config.limit)
    for name, ts in (("train", train), ("test", test)):
        if {t.kind for t in ts} != {"harmful", "benign"}:
            raise UserError(f"{config.tasks}: the {name} split needs both harmful and benign tasks")
    layers = parse_layer_spec(config.layers) if config.layers else None
    # Probes read hidden states: transformers, whatever engine generates elsewhere.
    backend = require_local(config.model.load(), "probing")
    n_layers = num_layers(backend.model)
    check_layers(layers, n_layers)
    if config.scan_layer is not None:
        check_layers([config.scan_layer], n_layers, "--scan-layer")
        if layers is not None and config.scan_layer not in layers:
            raise UserError(f"--scan-layer {config.scan_layer}: not among --layers {config.layers}")
    result, _ = run_study(
        backend.model,
        backend.tokenizer,
        train,
        test,
        prefix=config.prefix or PROBE_PREFIX,
        layers=layers,
        scan_layer=config.scan_layer,
        progress=progress,
    )
    result["model"] = backend.name
    atomic_write(out / "probe.json", json.dumps(result, indent=1))
    atomic_write(out / "report.html", render_html(result, backend.name))
    return result
