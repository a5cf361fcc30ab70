"""Load an adapter-only directory (written by `finetune` without `--merge`) as a backend.

The base model is named by `neutrophil_adapter.json` (a model spec: `smollm2-135m`, `tiny`,
or an absolute model dir), falling back to PEFT's `base_model_name_or_path`. The adapter
is merged into the base in memory, so generation runs at the base model's speed.
"""

from __future__ import annotations

import json
from pathlib import Path

from neutrophil.errors import UserError

ADAPTER_META = "neutrophil_adapter.json"


def is_adapter_dir(path: Path) -> bool:
    return (path / "adapter_config.json").is_file() and not (path / "config.json").is_file()


def adapter_base(path: Path) -> str:
    meta = path / ADAPTER_META
    if meta.is_file():
        return json.loads(meta.read_text())["base"]
    cfg = json.loads((path / "adapter_config.json").read_text())
    base = cfg.get("base_model_name_or_path")
    if not base:
        raise UserError(f"{path}: adapter dir names no base model (no {ADAPTER_META})")
    return base


def load_adapter(
    path: str | Path, *, batch_size: int = 32, threads: int | None = None, device: str = "auto"
):
    """Base backend (on transformers: PEFT merges into torch weights) + LoRA adapter from
    `path`, merged, as an `HFBackend`."""
    from peft import PeftModel

    from neutrophil.models import load_backend
    from neutrophil.models.hf import HFBackend

    path = Path(path)
    base = load_backend(
        adapter_base(path), batch_size=batch_size, threads=threads, engine="hf", device=device
    )
    try:
        model = PeftModel.from_pretrained(base.model, path).merge_and_unload()
    except (OSError, ValueError, KeyError) as e:
        raise UserError(f"{path}: cannot load adapter ({str(e).splitlines()[0]})") from None
    return HFBackend(model.eval(), base.tokenizer, name=path.name, batch_size=batch_size)
