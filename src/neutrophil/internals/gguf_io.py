"""llama.cpp control-vector GGUF files: export and import a `SteeringVector`.

Format (what llama.cpp's `common_control_vector_load` reads): architecture
`controlvector`, keys `controlvector.model_hint` and `controlvector.layer_count`, and one
F32 1-D tensor `direction.N` per layer N >= 1, added by llama.cpp to the output of
decoder block N (0-based) -- the same layer N as in this package. Block 0's output has
no slot in that format: a layer-0 direction is left out, and `export_gguf` says so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neutrophil.errors import UserError
from neutrophil.internals.vector import SteeringVector
from neutrophil.models.gguf_fields import string_field

GGUF_HEADER_BYTES = 24  # magic, version, tensor count, key count


def export_gguf(
    vector: SteeringVector, path: str | Path, model_hint: str | None = None
) -> tuple[int, ...]:
    """Write what llama.cpp can hold; returns the layers left out (only ever layer 0)."""
    import gguf

    dropped = tuple(n for n in vector.directions if n < 1)
    vector = vector.restricted(n for n in vector.directions if n >= 1)
    if not vector.directions:
        raise UserError(f"{path}: nothing to export: llama.cpp has no slot for layer 0")
    hint = model_hint or str(vector.metadata.get("model_type") or vector.metadata.get("model", ""))
    writer = gguf.GGUFWriter(str(path), "controlvector")
    writer.add_string("controlvector.model_hint", hint)
    writer.add_uint32("controlvector.layer_count", len(vector.directions))
    for n, v in vector.directions.items():
        writer.add_tensor(f"direction.{n}", v.numpy().astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return dropped


def import_gguf(path: str | Path) -> SteeringVector:
    import gguf
    import torch

    path = Path(path)
    if path.is_file() and path.stat().st_size < GGUF_HEADER_BYTES:
        raise UserError(f"{path}: not a GGUF file ({path.stat().st_size} bytes, no header)")
    try:
        # gguf's reader indexes past the end of a truncated file or one whose header claims
        # more tensors or keys than it holds (IndexError, a numpy error), rather than saying so.
        reader = gguf.GGUFReader(str(path))
        arch = string_field(reader, "general.architecture")
        tensors = list(reader.tensors)
        hint = string_field(reader, "controlvector.model_hint") or ""
    except OSError as e:
        raise UserError(f"{path}: cannot read ({e.strerror or e})") from None
    except (ValueError, IndexError, KeyError, TypeError, OverflowError, MemoryError) as e:
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise UserError(
            f"{path}: not a readable GGUF file (truncated or corrupt: {reason})"
        ) from None
    if arch != "controlvector":
        raise UserError(f"{path}: general.architecture is {arch!r}, expected 'controlvector'")
    dirs = {}
    for t in tensors:
        prefix, _, num = t.name.rpartition(".")
        if prefix != "direction" or not num.isdigit() or int(num) < 1:
            raise UserError(f"{path}: unexpected tensor {t.name!r} (expected direction.N, N >= 1)")
        dirs[int(num)] = torch.from_numpy(np.array(t.data, dtype=np.float32).reshape(-1))
    if not dirs:
        raise UserError(f"{path}: no direction tensors")
    return SteeringVector(dirs, {"model_type": hint, "method": "gguf", "source": str(path)})
