"""STAloss: spatio-temporal alignment of predicted and GT centre tracks (protocol §6.3).

For each pair of consecutive frames (k, k+1) the 2D centre vectors are lifted to 3D with a
time component whose *square* is ``zeta_sq`` (the reference's ``temporal_interal`` = 4 is
added to squared norms and dot products, so it acts as ζ² — an effective time step of 2 grid
cells). With P the predicted and G the GT centres:

* V_gg = G₁ − G₀, V_pp = P₁ − P₀, V_gp = G₁ − P₀, V_pg = P₁ − G₀; D₀ = P₀ − G₀, D₁ = P₁ − G₁;
* sin_pre = √(|D₀|² + ε) / √(|V_gp|² + ζ²), sin_next = √(|D₁|² + ε) / √(|V_pg|² + ζ²);
* cos_cross = (V_gp·V_pg + ζ²) / (√(|V_gp|² + ζ²)·√(|V_pg|² + ζ²)), cos_self likewise for
  V_gg and V_pp;
* L_sin = λ·(sin_pre + sin_next)/2, L_cos = (1 − λ)·(1 − (cos_cross + cos_self)/2).

The loss is the mean of L_sin plus the mean of L_cos over the pairs (λ = 0.5: the reference's
0.5/0.5). ε = 1e-7 inside the sine numerators is the only epsilon; ζ² > 0 keeps every
denominator away from zero, so gradients stay finite even when the GT does not move or when
P and G coincide. The sine ratios are not bounded by 1, exactly as in the reference.

Masking: by default clips whose mask is 0 (the tube was cropped away) are left out of the
mean. ``legacy=True`` reproduces the reference: GT centres are multiplied by the mask (empty
clips get GT (0, 0)), predictions are not, and every clip counts (protocol §11.9).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

STA_EPS = 1e-7


class STALossTerms(NamedTuple):
    """``loss = sin + cos``; each a scalar tensor (grid-cell units, no weights applied)."""

    loss: torch.Tensor
    sin: torch.Tensor
    cos: torch.Tensor


def sta_pair_terms(
    pred: torch.Tensor, gt: torch.Tensor, zeta_sq: float = 4.0, lam: float = 0.5,
    eps: float = STA_EPS,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pair ``(L_sin, L_cos)``, each ``(..., K-1)``, from centres ``(..., K, 2)``."""
    if pred.shape != gt.shape or pred.shape[-1] != 2 or pred.shape[-2] < 2:
        raise ValueError(
            f"centres must be (..., K>=2, 2) and match: pred {tuple(pred.shape)}, "
            f"gt {tuple(gt.shape)}"
        )
    p0, p1, g0, g1 = pred[..., :-1, :], pred[..., 1:, :], gt[..., :-1, :], gt[..., 1:, :]
    v_gg, v_pp, v_gp, v_pg = g1 - g0, p1 - p0, g1 - p0, p1 - g0
    d_pre, d_next = p0 - g0, p1 - g1

    def sq(v: torch.Tensor) -> torch.Tensor:
        return (v * v).sum(-1)

    def dot(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return (a * b).sum(-1)

    len_gp = torch.sqrt(sq(v_gp) + zeta_sq)
    len_pg = torch.sqrt(sq(v_pg) + zeta_sq)
    sin_pre = torch.sqrt(sq(d_pre) + eps) / len_gp
    sin_next = torch.sqrt(sq(d_next) + eps) / len_pg
    cos_cross = (dot(v_gp, v_pg) + zeta_sq) / (len_gp * len_pg)
    cos_self = (dot(v_gg, v_pp) + zeta_sq) / (
        torch.sqrt(sq(v_gg) + zeta_sq) * torch.sqrt(sq(v_pp) + zeta_sq)
    )
    l_sin = lam * (sin_pre + sin_next) / 2
    l_cos = (1 - lam) * (1 - (cos_cross + cos_self) / 2)
    return l_sin, l_cos


def sta_loss(
    pred_centres: torch.Tensor,
    gt_centres: torch.Tensor,
    mask: torch.Tensor | None = None,
    zeta_sq: float = 4.0,
    lam: float = 0.5,
    eps: float = STA_EPS,
    legacy: bool = False,
) -> STALossTerms:
    """STAloss of a batch of centre tracks ``(B, K, 2)`` (grid units); ``mask (B,)`` marks
    clips with an object (None = all). See the module docstring for masked vs legacy."""
    if zeta_sq <= 0:
        raise ValueError(f"zeta_sq must be > 0 (it keeps the denominators finite), got {zeta_sq}")
    if pred_centres.dim() != 3:
        raise ValueError(f"centres must be (B, K, 2), got {tuple(pred_centres.shape)}")
    if mask is None:
        mask = pred_centres.new_ones(pred_centres.shape[0])
    mask = mask.to(pred_centres.dtype)
    if legacy:
        gt_centres = gt_centres * mask[:, None, None]
        l_sin, l_cos = sta_pair_terms(pred_centres, gt_centres, zeta_sq, lam, eps)
        sin, cos = l_sin.mean(), l_cos.mean()
    else:
        # empty clips would have GT (0, 0): replace it by the prediction (finite terms), then
        # weight those clips 0 so they neither count nor send gradients
        keep = mask[:, None, None] > 0
        gt_centres = torch.where(keep, gt_centres, pred_centres.detach())
        l_sin, l_cos = sta_pair_terms(pred_centres, gt_centres, zeta_sq, lam, eps)
        weight = mask[:, None].expand_as(l_sin)
        total = weight.sum().clamp_min(1.0)
        sin, cos = (l_sin * weight).sum() / total, (l_cos * weight).sum() / total
    return STALossTerms(sin + cos, sin, cos)


class STALoss(nn.Module):
    """State-free STAloss module: ``forward(pred_centres, gt_centres, mask) -> STALossTerms``.

    ``zeta_sq`` is ζ² (added to squared lengths and dot products), ``lam`` the sine weight λ,
    ``legacy`` the reference's unmasked empty clips.

    One track per clip: :class:`~iodvideo.losses.criterion.CenterNetLoss` passes object slot 0
    (the clip's first tube) and the strongest peak of any class, as the reference does for its
    one gas tube; a clip's further objects (and classes) get no STA term. Known limitation.
    """

    def __init__(
        self, zeta_sq: float = 4.0, lam: float = 0.5, eps: float = STA_EPS, legacy: bool = False
    ) -> None:
        super().__init__()
        if zeta_sq <= 0:
            raise ValueError(f"zeta_sq must be > 0, got {zeta_sq}")
        self.zeta_sq, self.lam, self.eps, self.legacy = float(zeta_sq), float(lam), eps, legacy

    def forward(
        self,
        pred_centres: torch.Tensor,
        gt_centres: torch.Tensor,
        mask: torch.Tensor | None = None,
    ) -> STALossTerms:
        return sta_loss(
            pred_centres, gt_centres, mask, self.zeta_sq, self.lam, self.eps, self.legacy
        )

    def extra_repr(self) -> str:
        return f"zeta_sq={self.zeta_sq}, lam={self.lam}, eps={self.eps}, legacy={self.legacy}"
