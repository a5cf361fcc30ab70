"""Turn two sets of activations into one direction per layer: mean, pca, probe.

All functions take `pos` [n, L, hidden] and `neg` [m, L, hidden] and return [L, hidden];
they work on every layer at once (no per-example loops). The sign always points from
`neg` towards `pos`. `pca` and `probe` give a unit direction scaled by the mean
difference's component along it, so strengths mean roughly the same for all methods.
"""

from __future__ import annotations

import torch

METHODS = ("mean", "pca", "probe")


def mean_diff(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    return pos.mean(0) - neg.mean(0)


def _scaled(unit: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Orient `unit` [L, d] from neg to pos and scale it by the mean gap along it."""
    gap = (mean_diff(pos, neg) * unit).sum(-1, keepdim=True)  # [L, 1]
    return unit * gap  # gap < 0 flips the sign, so the result points to pos


def pca_diff(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """First principal component of the centred pair differences pos[i] - neg[i].

    Every other difference is negated first (as in RepE): otherwise centring would remove
    exactly the shared offset we are looking for. The sign is fixed afterwards from the
    mean difference, so it never depends on the SVD.
    """
    if pos.shape != neg.shape:
        raise ValueError("pca needs paired examples (same number of positives and negatives)")
    diffs = (pos - neg).transpose(0, 1).double()  # [L, n, d]
    signs = torch.ones(diffs.shape[1], dtype=diffs.dtype)
    signs[1::2] = -1
    diffs = diffs * signs[None, :, None]
    diffs = diffs - diffs.mean(1, keepdim=True)
    # Batched SVD over layers: the top right-singular vector is the first component.
    _, _, vh = torch.linalg.svd(diffs, full_matrices=False)
    unit = vh[:, 0, :].float()
    return _scaled(unit, pos, neg)


def probe_direction(pos: torch.Tensor, neg: torch.Tensor, c: float = 1.0) -> torch.Tensor:
    """Logistic-regression weight per layer (features standardised, weight mapped back)."""
    from neutrophil.internals.probes import fit_logistic

    x = torch.cat([pos, neg])
    y = torch.cat([torch.ones(len(pos)), torch.zeros(len(neg))])
    units = []
    for layer in range(x.shape[1]):
        w = fit_logistic(x[:, layer], y, c=c).raw_weight()
        units.append(w / w.norm().clamp_min(1e-12))
    return _scaled(torch.stack(units), pos, neg)


def compute(method: str, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    if method == "mean":
        return mean_diff(pos, neg)
    if method == "pca":
        return pca_diff(pos, neg)
    if method == "probe":
        return probe_direction(pos, neg)
    raise ValueError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
