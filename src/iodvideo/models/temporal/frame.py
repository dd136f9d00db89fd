"""Frame-level backbone: a timm 2D network applied to every frame independently.

This is the paper's ``resnet`` (concat) baseline: no temporal interaction until the heads
concatenate the K per-frame maps.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import timm
import torch
from torch import nn

from iodvideo.models.registry import register_backbone
from iodvideo.models.weights import LoadAudit, load_local_weights, resolve_pretrained


@register_backbone("resnet")
class FrameBackbone(nn.Module):
    """``(B, T, 3, H, W)`` → stage 2..5 maps ``(B*T, C_i, H/2^(i), W/2^(i))``, i = 2..5.

    Frames are folded into the batch, so BatchNorm sees B*T samples at once; the reference
    calls the network once per frame (B samples, K running-stat updates per step, protocol
    §11.27) — a deliberate deviation that does not change what the model computes at eval.
    ``model_kwargs`` go to ``timm.create_model`` (e.g. tiny ``layers``/``channels`` in tests).
    Random init keeps every BatchNorm at 1/0 like the reference (and the temporal backbones):
    timm's default zero-init of each block's last BN is turned off.
    """

    def __init__(
        self,
        model_name: str = "resnet50",
        pretrained: bool | str = False,
        weights_path: str | None = None,
        model_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        weights = resolve_pretrained(pretrained, weights_path)
        self.body = timm.create_model(
            model_name,
            pretrained=False,
            features_only=True,
            out_indices=(1, 2, 3, 4),
            **{"zero_init_last": False, **dict(model_kwargs or {})},
        )
        self.load_audit: LoadAudit | None = None
        if weights is not None:
            self.load_audit = load_local_weights(self.body, weights)
        self.feature_channels: list[int] = list(self.body.feature_info.channels())

    def forward(self, video: torch.Tensor) -> list[torch.Tensor]:
        batch, time = video.shape[:2]
        return self.body(video.reshape(batch * time, *video.shape[2:]))
