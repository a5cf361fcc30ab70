"""Linear probes: a logistic regression on one layer's activations.

A `LinearProbe` is a plain value (standardisation + weight + bias), so a gate can score
activations with torch alone; sklearn is only used to fit it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class LinearProbe:
    mean: torch.Tensor  # [hidden]
    scale: torch.Tensor  # [hidden]
    weight: torch.Tensor  # [hidden], on standardised features
    bias: float

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """[n] logits for activations x [n, hidden]."""
        return ((x.float() - self.mean) / self.scale) @ self.weight + self.bias

    def raw_weight(self) -> torch.Tensor:
        """The weight on unstandardised activations (the probe's direction in the stream)."""
        return self.weight / self.scale

    def to_dict(self) -> dict:
        return {
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "weight": self.weight.tolist(),
            "bias": self.bias,
        }

    @classmethod
    def from_dict(cls, d: dict) -> LinearProbe:
        t = lambda k: torch.tensor(d[k], dtype=torch.float32)  # noqa: E731
        return cls(t("mean"), t("scale"), t("weight"), float(d["bias"]))


def fit_logistic(x: torch.Tensor, y: torch.Tensor, c: float = 1.0) -> LinearProbe:
    """Fit on x [n, hidden], y [n] in {0, 1} (1 = positive / harmful)."""
    from sklearn.linear_model import LogisticRegression

    x = x.float()
    mean = x.mean(0)
    scale = x.std(0).clamp_min(1e-6)
    xs = ((x - mean) / scale).numpy()
    clf = LogisticRegression(C=c, max_iter=2000)
    clf.fit(xs, y.numpy().astype(int))
    w = torch.tensor(clf.coef_[0], dtype=torch.float32)
    return LinearProbe(mean, scale, w, float(clf.intercept_[0]))


@dataclass(frozen=True)
class LayerScore:
    layer: int
    accuracy: float
    auroc: float


def auroc(scores: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    if len(set(labels.tolist())) < 2:
        return float("nan")
    return float(roc_auc_score(labels, scores))


def fit_layer_probes(
    train: torch.Tensor,
    y_train: torch.Tensor,
    test: torch.Tensor,
    y_test: torch.Tensor,
    layers: Sequence[int],
    c: float = 1.0,
) -> tuple[dict[int, LinearProbe], list[LayerScore]]:
    """One probe per layer; `train`/`test` are [n, len(layers), hidden]."""
    probes: dict[int, LinearProbe] = {}
    scores: list[LayerScore] = []
    yt = y_test.numpy().astype(int)
    for i, layer in enumerate(layers):
        p = fit_logistic(train[:, i], y_train, c=c)
        logit = p.logits(test[:, i]).numpy()
        acc = float(((logit > 0).astype(int) == yt).mean()) if len(yt) else float("nan")
        probes[layer] = p
        scores.append(LayerScore(layer, acc, auroc(logit, yt)))
    return probes, scores
