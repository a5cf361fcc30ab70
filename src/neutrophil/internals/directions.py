"""Turn two sets of activations into one direction per layer.

All functions take `pos` [n, L, hidden] and `neg` [m, L, hidden] and return [L, hidden];
they work on every layer at once (no per-example loops). The sign always points from
`neg` towards `pos`. Methods:

- `mean`: mean(pos) - mean(neg).
- `pca`: first principal component of the *centred* pair differences pos[i] - neg[i]
  (what repeng calls `pca_diff`; centring is what PCA does). It finds the axis along
  which the pairs' differences vary most, oriented so that the mean difference projects
  positively on it.
- `pca-signed`: the same after negating every other difference (as in RepE's random
  pair order), so the shared offset survives centring: the component is then close to
  the mean difference's direction even when the differences barely vary.
- `probe`: a logistic-regression weight per layer.

`pca`, `pca-signed` and `probe` give a unit direction scaled by the mean difference's
component along it, so a vector's length means the same for all methods.
"""

from __future__ import annotations

import torch

METHODS = ("mean", "pca", "pca-signed", "probe")


def mean_diff(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    return pos.mean(0) - neg.mean(0)


def _scaled(unit: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Orient `unit` [L, d] from neg to pos and scale it by the mean gap along it."""
    gap = (mean_diff(pos, neg) * unit).sum(-1, keepdim=True)  # [L, 1]
    return unit * gap  # gap < 0 flips the sign, so the result points to pos


def _top_component(diffs: torch.Tensor) -> torch.Tensor:
    """[L, n, d] centred rows -> [L, d] unit first principal axis, batched over layers."""
    # float64: the top two singular values can be close with few pairs, and the axis
    # must not depend on float32 rounding (the repeng comparison runs in float64 too).
    _, _, vh = torch.linalg.svd(diffs, full_matrices=False)
    return vh[:, 0, :].float()


def _paired(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    if pos.shape != neg.shape or len(pos) < 2:
        raise ValueError("pca needs at least 2 pairs (same number of positives and negatives)")
    return (pos - neg).transpose(0, 1).double()  # [L, n, d]


def pca_diff(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """First principal component of the centred pair differences pos[i] - neg[i]."""
    diffs = _paired(pos, neg)
    unit = _top_component(diffs - diffs.mean(1, keepdim=True))
    return _scaled(unit, pos, neg)


def pca_signed(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """Like `pca_diff`, with every other difference negated before centring."""
    diffs = _paired(pos, neg)
    signs = torch.ones(diffs.shape[1], dtype=diffs.dtype)
    signs[1::2] = -1
    diffs = diffs * signs[None, :, None]
    unit = _top_component(diffs - diffs.mean(1, keepdim=True))
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
    if method == "pca-signed":
        return pca_signed(pos, neg)
    if method == "probe":
        return probe_direction(pos, neg)
    raise ValueError(f"unknown method {method!r} (choose from {', '.join(METHODS)})")
