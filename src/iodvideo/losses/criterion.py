"""The weighted training objective (protocol §6.4), MOV or STA mode.

* MOV (``sta=False``): L = w_hm·focal + w_wh·L1(wh at per-frame centres) + w_mov·L1(mov at the
  key centre). The STA head is computed but untrained.
* STA (``sta=True``): L = w_hm·focal + w_wh·L1(wh) + w_sta·STAloss(predicted, GT centres);
  the mov head is computed but untrained — STAloss takes the movement loss's place.

The focal loss covers every heatmap channel (one per class). STAloss, as in the reference,
aligns one track per clip: the strongest peak of any class against object slot 0 (the first
tube present); further objects of a clip get the size and focal terms only.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from iodvideo.losses.focal import clamped_sigmoid, focal_loss
from iodvideo.losses.regression import reg_l1_loss, reg_relative_l1_loss
from iodvideo.losses.sta import STA_EPS, STALoss
from iodvideo.tensor_ops import gather_at

# the size term: "l1" the reference's L1 in grid cells, "relative" the same error divided by the
# true size (what IoU judges; losses/regression.py)
WH_LOSSES = {"l1": reg_l1_loss, "relative": reg_relative_l1_loss}

# reference: resize // down_ratio // 4 = 288 // 4 // 4 (protocol §5.3, §11.13)
DEFAULT_OFFSET_SCALE = 18.0


def key_peak(prob: torch.Tensor) -> torch.Tensor:
    """Flat index ``(B, 1)`` into ``h·w`` of the single strongest 3×3-NMS peak of
    ``prob (B, C, h, w)``, whatever its class: the map is reduced to its maximum over classes
    first (a no-op for one class), since STAloss follows one object (slot 0) of any class and
    the STA map it reads is shared by all classes.

    No gradient flows through the selection; ties go to ``topk``'s order, like the reference.
    """
    prob = prob.detach().amax(dim=1, keepdim=True)
    keep = F.max_pool2d(prob, kernel_size=3, stride=1, padding=1) == prob
    return (prob * keep).reshape(prob.shape[0], -1).topk(1, dim=1).indices


def sta_centres(
    prob: torch.Tensor, sta: torch.Tensor, offset_scale: float = DEFAULT_OFFSET_SCALE
) -> torch.Tensor:
    """Predicted centre tracks ``(B, K, 2)`` in grid units (protocol §6.3 steps 1, 2, 4): the
    offsets ``o_k ∈ (−1, 1)`` of the STA map ``(B, 2K, h, w)`` read at the key peak (xs, ys),
    giving P_k = (xs + s·o_x,k, ys + s·o_y,k) with s = ``offset_scale``."""
    width = prob.shape[-1]
    index = key_peak(prob)  # (B, 1)
    xs = (index % width).to(sta.dtype)
    ys = torch.div(index, width, rounding_mode="floor").to(sta.dtype)
    offsets = gather_at(sta, index)[:, 0].reshape(sta.shape[0], -1, 2)  # (B, K, 2)
    return torch.cat((xs, ys), dim=1)[:, None, :] + offset_scale * offsets


class CenterNetLoss(nn.Module):
    """Returns a dict: ``loss`` (the weighted sum) and each unweighted term it contains.

    ``zeta_sq`` (ζ², additive), ``sta_lambda`` (λ), ``legacy`` (unmasked empty clips) and
    ``offset_scale`` configure STAloss; the decoder reads the same ``offset_scale``.
    """

    def __init__(
        self,
        hm_weight: float = 1.0,
        wh_weight: float = 0.1,
        mov_weight: float = 1.0,
        sta: bool = False,
        sta_weight: float = 1.0,
        zeta_sq: float = 4.0,
        sta_lambda: float = 0.5,
        offset_scale: float = DEFAULT_OFFSET_SCALE,
        legacy: bool = False,
        eps: float = STA_EPS,
        wh_loss: str = "l1",
    ) -> None:
        super().__init__()
        if wh_loss not in WH_LOSSES:
            raise ValueError(f"loss.wh_loss must be one of {sorted(WH_LOSSES)}, got {wh_loss!r}")
        self.size_loss = WH_LOSSES[wh_loss]
        self.hm_weight, self.wh_weight, self.mov_weight = hm_weight, wh_weight, mov_weight
        self.sta, self.sta_weight, self.offset_scale = bool(sta), sta_weight, float(offset_scale)
        self.sta_loss = STALoss(zeta_sq=zeta_sq, lam=sta_lambda, eps=eps, legacy=legacy)

    def forward(
        self, output: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        output = {k: v.float() for k, v in output.items()}  # bf16 autocast: losses in fp32
        if output["hm"].shape != batch["hm"].shape:  # (B, 1) against (B, C) would broadcast
            raise ValueError(
                f"the detector's heatmap {tuple(output['hm'].shape)} does not match the "
                f"targets' {tuple(batch['hm'].shape)}: model.heads.num_classes must equal the "
                "data's number of classes"
            )
        prob = clamped_sigmoid(output["hm"])
        hm = focal_loss(prob, batch["hm"])
        wh = self.size_loss(output["wh"], batch["index_all"], batch["mask"], batch["wh"])
        losses = {"hm_loss": hm, "wh_loss": wh}
        total = self.hm_weight * hm + self.wh_weight * wh
        if self.sta:
            if "sta" not in output:
                raise ValueError("loss.sta=true needs a detector with an STA head ('sta' output)")
            batch_size, clip_len = output["sta"].shape[0], output["sta"].shape[1] // 2
            pred = sta_centres(prob, output["sta"], self.offset_scale)
            gt = batch["centers"][:, 0].float().reshape(batch_size, clip_len, 2)  # object slot 0
            terms = self.sta_loss(pred, gt, batch["mask"][:, 0])
            losses.update(sta_loss=terms.loss, sta_sin_loss=terms.sin, sta_cos_loss=terms.cos)
            total = total + self.sta_weight * terms.loss
        else:
            mov = reg_l1_loss(output["mov"], batch["index"], batch["mask"], batch["mov"])
            losses["mov_loss"] = mov
            total = total + self.mov_weight * mov
        return {"loss": total, **losses}
