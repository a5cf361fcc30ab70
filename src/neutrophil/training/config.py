"""Fine-tuning settings, stored with every checkpoint so a resume can check it continues the same run."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class TrainConfig:
    lora_r: int = 8
    lora_alpha: int | None = None  # None: 2 * lora_r
    epochs: int = 1
    max_steps: int | None = None  # overrides epochs: train exactly this many optimizer steps
    lr: float = 2e-4
    batch_size: int = 4
    max_length: int = 512
    warmup_ratio: float = 0.05
    seed: int = 0
    save_every: int = 25  # checkpoint every K optimizer steps

    def __post_init__(self) -> None:
        for name in ("lora_r", "epochs", "batch_size", "max_length", "save_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1, got {self.max_steps}")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")

    @property
    def alpha(self) -> int:
        return self.lora_alpha if self.lora_alpha is not None else 2 * self.lora_r

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def run_key(self) -> dict[str, Any]:
        """The settings that must match for a checkpoint to be resumed (not `save_every`)."""
        d = self.to_dict()
        d.pop("save_every")
        return d
