"""The weighted training objective (reference-notes §6.4, MOV mode)."""

from __future__ import annotations

import torch
from torch import nn

from iodvideo.losses.focal import clamped_sigmoid, focal_loss
from iodvideo.losses.regression import reg_l1_loss


class CenterNetLoss(nn.Module):
    """L = w_hm·focal + w_wh·L1(wh at per-frame centres) + w_mov·L1(mov at the key centre)."""

    def __init__(self, hm_weight: float = 1.0, wh_weight: float = 0.1, mov_weight: float = 1.0):
        super().__init__()
        self.hm_weight, self.wh_weight, self.mov_weight = hm_weight, wh_weight, mov_weight

    def forward(
        self, output: dict[str, torch.Tensor], batch: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        hm = focal_loss(clamped_sigmoid(output["hm"]), batch["hm"])
        wh = reg_l1_loss(output["wh"], batch["index_all"], batch["mask"], batch["wh"])
        mov = reg_l1_loss(output["mov"], batch["index"], batch["mask"], batch["mov"])
        total = self.hm_weight * hm + self.wh_weight * wh + self.mov_weight * mov
        return {"loss": total, "hm_loss": hm, "wh_loss": wh, "mov_loss": mov}
