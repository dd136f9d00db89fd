"""Frame-level backbone: a timm 2D network applied to every frame independently.

This is the paper's ``resnet`` (concat) baseline: no temporal interaction until the heads
concatenate the K per-frame maps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import timm
import torch
from torch import nn

from iodvideo.models.original_keys import OriginalKeys, Shapes, has_key
from iodvideo.models.per_frame import stack_frames, uses_batch_statistics
from iodvideo.models.registry import register_backbone
from iodvideo.models.weights import LoadAudit, load_local_weights, resolve_pretrained


@register_backbone("resnet")
class FrameBackbone(OriginalKeys, nn.Module):
    """``(B, T, 3, H, W)`` → stage 2..5 maps ``(B*T, C_i, H/2^(i), W/2^(i))``, i = 2..5.

    Frames are folded into the batch, so BatchNorm sees B*T samples at once; the reference
    calls the network once per frame (B samples, K running-stat updates per step, protocol
    §11.27) — a deliberate deviation that does not change what the model computes at eval.
    ``legacy_per_frame`` reproduces it: while BatchNorm uses batch statistics (training) the
    body runs once per frame, and the detector runs the neck once per frame too
    (``legacy_per_frame_neck``).
    ``model_kwargs`` go to ``timm.create_model`` (e.g. tiny ``layers``/``channels`` in tests).
    Random init keeps every BatchNorm at 1/0 like the reference (and the temporal backbones):
    timm's default zero-init of each block's last BN is turned off.
    """

    # registry facts (iodvideo.models.registry.backbone_facts)
    context_frames = 0
    temporal = False  # frames meet only in the clip heads: the paper's concat baseline
    online_streamable = False
    export_unsupported: dict[str, str] = {}
    legacy_neck_before_reshape = False
    legacy_per_frame_neck = True  # with legacy_per_frame: the whole network runs per frame
    # original checkpoints (iodvideo.models.original): the original's `resnet` arch is a
    # torchvision ResNet under `backbone.` and nothing else; it runs the network per frame
    original_options = {"legacy_per_frame": True}

    @classmethod
    def original_matches(cls, shapes: Shapes) -> bool:
        plain = (r"^backbone\.(conv1|bn1|layer\d\.\d+\.(conv\d|bn\d|downsample\.\d)|fc|norm1"
                 r"|deconv\d\.\d|cat|cat_bn|cat64|cat_bn64)\.\w+$")
        inner = [k for k in shapes if k.startswith("backbone.")]
        return (len(shapes.get("backbone.conv1.weight", ())) == 4
                and all(re.match(plain, k) for k in inner) and has_key(shapes, r"\.layer1\."))

    def __init__(
        self,
        model_name: str = "resnet50",
        pretrained: bool | str = False,
        weights_path: str | None = None,
        model_kwargs: Mapping[str, Any] | None = None,
        legacy_per_frame: bool = False,
    ) -> None:
        super().__init__()
        self.legacy_per_frame = legacy_per_frame
        weights = resolve_pretrained(pretrained, weights_path, model_name)
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

    @property
    def legacy_neck(self) -> bool:
        """Whether the detector runs the neck as the reference does (per frame in training)."""
        return self.legacy_per_frame

    def forward(self, video: torch.Tensor) -> list[torch.Tensor]:
        batch, time = video.shape[:2]
        if self.legacy_per_frame and uses_batch_statistics(self.body):
            per_frame = [self.body(video[:, t]) for t in range(time)]
            return [stack_frames(level) for level in zip(*per_frame, strict=True)]
        return self.body(video.reshape(batch * time, *video.shape[2:]))
