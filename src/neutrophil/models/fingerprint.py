"""Model fingerprints: what decides a model's tokens, as a short string for cache keys.

Display names collide (two fine-tunes saved as `agentic/` elsewhere), so caches and run
stores key on these instead: the engine, and a hash of the config, dtype and a sample of
every weight tensor (transformers) or of the GGUF file's bytes (llama.cpp).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def hf_fingerprint(model: Any) -> str:
    """`hf:` + a hash of config, dtype and a strided sample of every parameter."""
    import torch

    h = hashlib.sha256()
    config = model.config.to_dict()
    config.pop("_name_or_path", None)  # where it was loaded from does not change tokens
    config.pop("transformers_version", None)
    h.update(json.dumps(config, sort_keys=True, default=str).encode())
    with torch.no_grad():
        for name, p in model.named_parameters():
            flat = p.detach().reshape(-1)
            step = max(1, flat.numel() // 256)
            sample = flat[::step].float().cpu().numpy()
            h.update(name.encode())
            h.update(str(tuple(p.shape)).encode() + str(p.dtype).encode())
            h.update(sample.tobytes())
    return f"hf:{h.hexdigest()[:16]}"
