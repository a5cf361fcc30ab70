"""LoRA supervised fine-tuning with a small, explicit torch loop (CPU-friendly, offline).

    finetune("smollm2-135m", "builtin:agentic", Path("runs/ft"), TrainConfig(max_steps=60))

Output directory (usable as `--model DIR` everywhere):
- without merge: a PEFT adapter dir (`adapter_config.json`, `adapter_model.safetensors`,
  tokenizer files) plus `neutrophil_adapter.json` naming the base model spec;
- with merge: a plain Hugging Face model dir (weights with the adapter folded in, tokenizer),
  and the adapter itself in `DIR/adapter/`; when the base is a GGUF (the embedded model
  included), also `DIR/model.gguf` (f16, the base's metadata and tokenizer), which the
  llama.cpp engine runs.
`DIR/training.json` (written last) records settings, data, and the loss curve. While
training, `DIR/checkpoint.pt` is refreshed every `save_every` steps; rerunning with the
same `DIR` and settings continues from it.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from neutrophil.errors import UserError
from neutrophil.files import atomic_write
from neutrophil.models import MERGED_GGUF, gguf_source
from neutrophil.models.adapters import ADAPTER_META
from neutrophil.training.checkpoint import CHECKPOINT, load_checkpoint, restore, save_checkpoint
from neutrophil.training.config import TrainConfig
from neutrophil.training.dataset import Conversation, load_conversations
from neutrophil.training.examples import IGNORE, Example, encode
from neutrophil.training.schedule import warmup_cosine

TRAINING_JSON = "training.json"


@dataclass(frozen=True)
class TrainResult:
    out: Path
    steps: int
    losses: tuple[float, ...] = field(default=())
    merged: bool = False
    resumed_from: int = 0  # the step training continued from (0: fresh start)
    skipped: bool = False  # the run was already complete in `out`


def data_fingerprint(convs: Sequence[Conversation]) -> str:
    h = hashlib.sha256()
    for c in convs:
        h.update(json.dumps(c, sort_keys=True).encode())
    return h.hexdigest()[:16]


def collate(batch: Sequence[Example], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad a batch; padded positions get attention 0 and label IGNORE."""
    width = max(len(e.input_ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for i, e in enumerate(batch):
        n = len(e.input_ids)
        ids[i, :n] = torch.tensor(e.input_ids)
        labels[i, :n] = torch.tensor(e.labels)
        mask[i, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def batch_order(n: int, batch_size: int, step: int, seed: int) -> list[int]:
    """Example indices of optimizer step `step`: a fresh seeded shuffle per epoch, so the
    order depends only on (seed, step) and a resumed run sees the same batches."""
    per_epoch = math.ceil(n / batch_size)
    epoch, k = divmod(step, per_epoch)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch)).tolist()
    return perm[k * batch_size : (k + 1) * batch_size]


def total_steps(n: int, config: TrainConfig) -> int:
    return config.max_steps or config.epochs * math.ceil(n / config.batch_size)


def add_lora(model, config: TrainConfig):
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.alpha,
        lora_dropout=0.0,  # no dropout: deterministic steps, exact resume
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora)


def _base_ref(spec: str) -> str:
    """Store model dirs and files as absolute paths, so the adapter loads from anywhere."""
    p = Path(spec).expanduser()
    return str(p.resolve()) if p.exists() else spec


def finetune(
    base: str,
    data: str | Sequence[Conversation],
    out: Path,
    config: TrainConfig | None = None,
    *,
    merge: bool = False,
    progress: bool = True,
    data_name: str | None = None,
    stop_at: int | None = None,
    device: str = "auto",
    threads: int | None = None,
) -> TrainResult:
    """Train a LoRA adapter on `data` (a spec or conversations) on top of model `base`, on
    `device` (`models.torch_device`: bf16 on CUDA, fp32 on the CPU), with `threads` torch
    CPU threads (None: torch's default).

    `stop_at`: checkpoint after that many steps and return without finishing (a time box;
    rerunning without it continues from the checkpoint).
    """
    from neutrophil.models import load_backend

    config = config or TrainConfig()
    out = Path(out)
    convs = load_conversations(data) if isinstance(data, str) else list(data)
    data_name = data_name or (data if isinstance(data, str) else "conversations")
    key = {
        "base": _base_ref(base),
        "data": data_fingerprint(convs),
        "config": config.run_key(),
        "merge": merge,
    }
    done = _finished(out, key)
    if done is not None:
        return done

    # Gradients: transformers.
    backend = load_backend(base, engine="hf", device=device, threads=threads)
    model, tokenizer = backend.model, backend.tokenizer
    examples = [encode(tokenizer, c, config.max_length) for c in convs]
    dropped = sum(1 for e in examples if e.n_targets == 0)
    examples = [e for e in examples if e.n_targets > 0]
    if not examples:
        raise UserError(
            f"{data_name}: no example keeps an assistant token within --max-length {config.max_length}"
        )
    if dropped:
        print(
            f"finetune: {dropped} example(s) dropped (assistant turn beyond --max-length)",
            file=sys.stderr,
        )

    torch.manual_seed(config.seed)
    random.seed(config.seed)
    model = add_lora(model, config)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    steps = total_steps(len(examples), config)
    warmup = int(round(config.warmup_ratio * steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: warmup_cosine(s, steps, warmup)
    )

    out.mkdir(parents=True, exist_ok=True)
    start, losses = 0, []
    state = load_checkpoint(out)
    if state is not None:
        if state["key"] != key:
            raise UserError(
                f"{out}: holds a checkpoint of a different run (other model, data or settings); "
                "use a new --out or delete it"
            )
        restore(state, model=model, optimizer=optimizer, scheduler=scheduler)
        start, losses = state["step"], list(state["losses"])
        print(f"finetune: resuming {out} at step {start}/{steps}", file=sys.stderr)

    t0 = time.perf_counter()
    model.train()
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    bar = tqdm(total=steps, initial=start, desc="finetune", unit="step", disable=not progress)
    for step in range(start, steps):
        batch = collate(
            [examples[i] for i in batch_order(len(examples), config.batch_size, step, config.seed)],
            pad_id,
        )
        loss = model(**{k: v.to(model.device) for k, v in batch.items()}).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(round(loss.item(), 5))
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.3f}", lr=f"{scheduler.get_last_lr()[0]:.1e}")
        stopping = stop_at is not None and step + 1 >= stop_at
        if (stopping or (step + 1) % config.save_every == 0) and step + 1 < steps:
            save_checkpoint(
                out,
                model=model,
                optimizer=optimizer,
                scheduler=scheduler,
                step=step + 1,
                losses=losses,
                key=key,
            )
            if stopping:
                bar.close()
                return TrainResult(out, step + 1, tuple(losses), merge, start)
    bar.close()
    model.eval()

    _save_outputs(model, tokenizer, out, base=key["base"], merge=merge, gguf_base=gguf_source(base))
    summary = {
        "base": key["base"],
        "data": data_name,
        "data_fingerprint": key["data"],
        "examples": len(examples),
        "target_tokens": sum(e.n_targets for e in examples),
        "config": config.to_dict(),
        "merge": merge,
        "steps": steps,
        "resumed_from": start,
        "seconds_this_run": round(time.perf_counter() - t0, 1),
        "losses": losses,
        "key": key,
    }
    atomic_write(out / TRAINING_JSON, json.dumps(summary, indent=1))  # resume reads it
    (out / CHECKPOINT).unlink(missing_ok=True)
    return TrainResult(out, steps, tuple(losses), merge, start)


def _finished(out: Path, key: dict[str, Any]) -> TrainResult | None:
    path = out / TRAINING_JSON
    if not path.is_file():
        return None
    summary = json.loads(path.read_text())
    if summary.get("key") != key:
        raise UserError(f"{out}: already holds a finished run with other settings; use a new --out")
    return TrainResult(
        out, summary["steps"], tuple(summary["losses"]), summary["merge"], skipped=True
    )


def _save_outputs(
    peft_model, tokenizer, out: Path, *, base: str, merge: bool, gguf_base: Path | None = None
) -> None:
    """The adapter; with `merge`, the merged model dir, and beside it `model.gguf` when the
    base came from a GGUF (so the llama.cpp engine runs the fine-tuned model)."""
    adapter_dir = out / "adapter" if merge else out
    peft_model.save_pretrained(adapter_dir)
    tokenizer.save_pretrained(adapter_dir)
    atomic_write(adapter_dir / ADAPTER_META, json.dumps({"base": base}, indent=1))
    if merge:
        merged = peft_model.merge_and_unload()
        merged.save_pretrained(out)
        tokenizer.save_pretrained(out)
        if gguf_base is not None:
            from neutrophil.models.gguf_export import write_gguf

            write_gguf(merged, gguf_base, out / MERGED_GGUF)
