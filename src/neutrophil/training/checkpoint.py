"""Resumable training state: LoRA weights + optimizer + scheduler + step + RNG, in one file.

The file is written to a temporary name and renamed, so an interrupted save never
leaves a half-written checkpoint that a resume would trust.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import torch

CHECKPOINT = "checkpoint.pt"


def trainable_state(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(
    out: Path, *, model, optimizer, scheduler, step: int, losses: list[float], key: dict[str, Any]
) -> Path:
    state = {
        "step": step,
        "losses": list(losses),
        "key": key,
        "weights": trainable_state(model),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "rng": {"torch": torch.get_rng_state(), "python": random.getstate()},
    }
    path = out / CHECKPOINT
    tmp = out / (CHECKPOINT + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(out: Path) -> dict[str, Any] | None:
    path = out / CHECKPOINT
    if not path.is_file():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)


def restore(state: dict[str, Any], *, model, optimizer, scheduler) -> None:
    missing = set(state["weights"]) - {n for n, p in model.named_parameters() if p.requires_grad}
    if missing:
        raise ValueError(f"checkpoint holds weights the model lacks: {sorted(missing)[:3]}")
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, value in state["weights"].items():
            params[name].copy_(value)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"]["torch"])
    random.setstate(state["rng"]["python"])
