"""Write a transformers model as a GGUF, taking metadata and tokenizer from the GGUF it
came from, so a fine-tuned model runs on the llama.cpp engine.

`finetune --merge` of the embedded model (or any GGUF base) changes weights only, so the
base GGUF's metadata (architecture, hyper-parameters, tokenizer, chat template) still
describes the model: we copy every key, and write each weight the base file holds under
its GGUF name, as f16 (f32 for 1-D norms, which llama.cpp wants in f32). Hugging Face
stores the query/key projections of llama-family models in a different rotary layout
than GGUF; transformers un-permutes them on loading a GGUF, so we permute them back.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from neutrophil.errors import UserError

# Architectures whose q/k rows llama.cpp's converter permutes (and transformers undoes).
PERMUTED_QK = frozenset({"llama"})
SUPPORTED = frozenset({"llama", "qwen2"})


def _permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """HF rotary layout (halves) -> GGUF layout (interleaved pairs), per head."""
    rows = w.shape[0]
    return w.reshape(n_head, 2, rows // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def _copy_metadata(reader: Any, writer: Any, file_type: int) -> None:
    import gguf

    skip = {"general.architecture", "general.file_type", "general.quantization_version"}
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key in skip:
            continue
        vtype = field.types[0]
        if vtype == gguf.GGUFValueType.ARRAY:
            writer.add_key_value(key, field.contents(), vtype, sub_type=field.types[-1])
        else:
            writer.add_key_value(key, field.contents(), vtype)
    writer.add_file_type(file_type)


def write_gguf(model: Any, base: Path, out: Path, *, f16: bool = True) -> Path:
    """Write `model`'s weights as a GGUF at `out`, with `base`'s metadata; atomic."""
    import gguf
    import torch

    reader = gguf.GGUFReader(str(base))
    arch_field = reader.fields.get("general.architecture")
    arch = arch_field.contents() if arch_field is not None else "?"
    if arch not in SUPPORTED:
        raise UserError(f"{base}: writing a {arch!r} GGUF is not supported (llama, qwen2 are)")
    wanted = {t.name for t in reader.tensors}
    arch_enum = next(k for k, v in gguf.MODEL_ARCH_NAMES.items() if v == arch)
    config = model.config
    names = gguf.get_tensor_name_map(arch_enum, config.num_hidden_layers)
    n_head, n_kv = config.num_attention_heads, config.num_key_value_heads
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")  # one per writer
    writer = gguf.GGUFWriter(str(tmp), arch)
    _copy_metadata(reader, writer, 1 if f16 else 0)
    written: set[str] = set()
    with torch.no_grad():
        for hf_name, p in model.state_dict().items():
            name = names.get_name(hf_name, try_suffixes=(".weight", ".bias"))
            if name is None or name not in wanted or name in written:
                continue  # e.g. a tied lm_head the base GGUF does not store
            w = p.detach().float().cpu().numpy()
            if arch in PERMUTED_QK and name.endswith("attn_q.weight"):
                w = _permute(w, n_head)
            elif arch in PERMUTED_QK and name.endswith("attn_k.weight"):
                w = _permute(w, n_kv)
            if f16 and w.ndim >= 2:
                w = w.astype(np.float16)
            writer.add_tensor(name, w)
            written.add(name)
    missing = wanted - written
    if missing:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise UserError(f"{base}: the model has no weights for {sorted(missing)[:3]} ...")
    return _finish(writer, tmp, out)


def _finish(writer, tmp: Path, out: Path) -> Path:
    """Write the file the writer holds to `tmp`, then move it to `out` (atomic)."""
    try:
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()
    os.replace(tmp, out)
    return out


# A stored form of a GGUF's weights -> its llama.cpp file type (llama_ftype).
FORMS = {"f32": 0, "q8_0": 7}


def rewrite_gguf(src: Path, out: Path, form: str) -> Path:
    """Write `src` with its quantized tensors in another form, metadata unchanged but the
    file type; atomic. "f32": dequantized (exact: a quantized block is d*q+m in f32).
    "q8_0": requantized to 8 bits per weight (a Q4_1 block's 16 levels land within 0.4% of
    the block's largest weight), for llama.cpp's batched int8 kernels; tensors stored
    unquantized (norms) stay as they are."""
    import gguf

    reader = gguf.GGUFReader(str(src))
    arch = reader.fields["general.architecture"].contents()
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")  # one per writer
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(str(tmp), arch)
    _copy_metadata(reader, writer, FORMS[form])
    plain = {gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16}
    q8 = gguf.GGMLQuantizationType.Q8_0
    try:
        for t in reader.tensors:
            shape = [int(d) for d in reversed(t.shape)]  # numpy order (reversed ggml dims)
            if form == "q8_0" and t.tensor_type in plain:
                writer.add_tensor(t.name, t.data.reshape(shape))
            elif form == "q8_0" and t.tensor_type == q8:
                writer.add_tensor(t.name, t.data, raw_dtype=q8)  # already 8-bit: as stored
            else:
                w = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32, copy=False)
                w = w.reshape(shape)
                if form == "q8_0":
                    writer.add_tensor(t.name, gguf.quants.quantize(w, q8), raw_dtype=q8)
                else:
                    writer.add_tensor(t.name, w)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    return _finish(writer, tmp, out)
