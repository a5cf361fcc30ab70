"""The model options every command shares (`--model`, `--batch-size`, `--engine`, ...), as
one value that workflows take and load."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from neutrophil.errors import BackendError, UserError
from neutrophil.models import DEFAULT_MODEL, Backend, load_backend


@dataclass(frozen=True)
class ModelOptions:
    """Which model to run and how: the arguments of `load_backend`."""

    spec: str = DEFAULT_MODEL
    batch_size: int = 32
    engine: str = "auto"
    gguf_weights: str = "auto"
    threads: int | None = None
    device: str = "auto"

    def load(self) -> Backend:
        """The loaded backend. A local model that fails to load for any reason is a
        `UserError` naming it (see `model_file_error`)."""
        try:
            return load_backend(
                self.spec,
                batch_size=self.batch_size,
                engine=self.engine,
                threads=self.threads,
                gguf_weights=self.gguf_weights,
                device=self.device,
            )
        except Exception as e:
            raise model_file_error(self.spec, e) from None


def model_file_error(spec: str, e: Exception) -> Exception:
    """A local model that fails to load for any reason (a torn safetensors file, a missing
    tokenizer) is the user's file, not a bug: one line naming it. Anything else passes."""
    if isinstance(e, UserError | BackendError) or not Path(spec).expanduser().exists():
        return e
    first = (str(e).strip().splitlines() or [""])[0][:200]
    return UserError(f"{spec}: cannot load model ({type(e).__name__}: {first})")
