"""Shared skeleton of the 2D+temporal backbones: a timm body with adapters wrapped into it.

Adapters are inserted without renaming any timm tensor (a temporal op becomes a pre-op of the
conv it feeds, or a block class adopts the timm block's children under their own names), so a
plain timm/torchvision checkpoint loads by name into every backbone — unlike the reference,
where wrapping renamed convs and left them silently unloaded (protocol §5.5.2–5.5.3, §11.3).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import timm
import torch
from torch import nn

from iodvideo.models.original_keys import OriginalKeys
from iodvideo.models.temporal.layout import (
    frames_from_clip,
    frames_to_clip_len,
    legacy_frames_from_features,
)
from iodvideo.models.weights import LoadAudit, load_local_weights, resolve_pretrained

BODY_PREFIX = "body."


class PreOpConv2d(nn.Conv2d):
    """A Conv2d that runs a (temporal) module on its input first.

    Subclassing keeps the conv's tensors at ``<name>.weight``/``<name>.bias`` — the checkpoint
    names — while the op's own parameters live under ``<name>.pre.*`` (new, never in a 2D
    checkpoint). Used to put shifts/TAM/TIN on exactly the input of one conv, i.e. on the
    residual branch only, the identity path keeping the unmodified tensor.
    """

    @classmethod
    def wrap(cls, conv: nn.Conv2d, pre: nn.Module) -> PreOpConv2d:
        new = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            stride=conv.stride,
            padding=conv.padding,
            dilation=conv.dilation,
            groups=conv.groups,
            bias=conv.bias is not None,
            padding_mode=conv.padding_mode,
        )
        new.weight = conv.weight
        new.bias = conv.bias
        new.pre = pre
        return new

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(self.pre(x))


def he_normal_init(module: nn.Module) -> None:
    """The reference's init for new modules: conv N(0, sqrt(2/(k²·C_out))), BatchNorm 1/0."""
    for m in module.modules():
        if isinstance(m, nn.Conv2d | nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm3d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class TemporalBackbone(OriginalKeys, nn.Module):
    """``(B, T, 3, H, W)`` → stage 2..5 maps ``(B*T, C_i, H_i, W_i)``, frames clip-major.

    Subclasses insert their adapters into ``self.body`` in ``__init__`` and then call
    :meth:`finish`, which loads the local checkpoint (if any) and records the audit.

    ``legacy_layout`` reproduces the reference's reshape scramble (protocol §5.4): on the input
    (TDN: before layer2 instead; I3D/S3D: nowhere, as in the reference) and on the outputs for
    the backbones whose reference code does it (``scramble_outputs``), and makes the detector
    order the neck as the reference does (the ``legacy_*`` class facts below). ``clip_len`` (K)
    is fixed at construction like the reference's ``n_segment``, because some adapters (TIN's
    offset net) have T-sized weights.

    A forward is two steps so that the detector can put the neck's L2Norm/upsampling between
    them (legacy TAM/TDN): :meth:`stage_maps` (the network) and :meth:`frame_maps` (the output
    reshape to K per-frame maps, with the scramble under ``legacy_layout``).
    """

    scramble_outputs = False
    # facts read through iodvideo.models.registry.backbone_facts (never by name elsewhere)
    context_frames = 0  # extra frames per clip side
    temporal = True  # frames meet inside the backbone
    online_streamable = False  # iodvideo.inference.stream.online can run it frame by frame
    export_unsupported: dict[str, str] = {}  # export format → why not
    legacy_neck_before_reshape = False  # legacy: neck L2Norm/upsampling before frame_maps
    legacy_per_frame_neck = False  # legacy, training: the neck runs once per frame
    # checkpoint tensors the reference fails to load for this arch (protocol §5.6), as a regex
    # over our keys; ``legacy_pretrained`` leaves them at random init for parity runs
    legacy_unloaded: str | None = None

    def __init__(
        self,
        model_name: str,
        clip_len: int = 8,
        pretrained: bool | str = False,
        weights_path: str | None = None,
        legacy_layout: bool = False,
        model_kwargs: Mapping[str, Any] | None = None,
        legacy_pretrained: bool = False,
    ) -> None:
        super().__init__()
        self._weights: Path | None = resolve_pretrained(pretrained, weights_path, model_name)
        if clip_len < 2:
            raise ValueError(f"temporal backbones need clip_len >= 2, got {clip_len}")
        self.clip_len = clip_len
        self.legacy_layout = legacy_layout
        self.legacy_pretrained = legacy_pretrained
        # BN 1/0 everywhere as in the reference (timm would zero the last BN of each block,
        # which also blocks every gradient into a fresh residual branch).
        kwargs = {"zero_init_last": False, **dict(model_kwargs or {})}
        self.body = timm.create_model(
            model_name, pretrained=False, features_only=True, out_indices=(1, 2, 3, 4), **kwargs
        )
        self.feature_channels: list[int] = list(self.body.feature_info.channels())
        self.load_audit: LoadAudit | None = None

    # -- construction helpers -------------------------------------------------------------
    def blocks(self) -> Iterator[tuple[int, int, nn.Module]]:
        """(stage 1..4, index, block) for every residual block of the body."""
        for stage in range(1, 5):
            for index, block in enumerate(self.stage(stage)):
                yield stage, index, block

    def stage(self, index: int) -> nn.Sequential:
        return getattr(self.body, f"layer{index}")

    def checkpoint_key(self, own_key: str) -> str | None:
        """Checkpoint tensor for one of our keys: the timm name, i.e. ``body.`` stripped.

        Under ``legacy_pretrained`` the tensors the reference never loads map to nothing.
        """
        if self.legacy_pretrained and self.legacy_unloaded is not None:
            if re.search(self.legacy_unloaded, own_key):
                return None
        return own_key.removeprefix(BODY_PREFIX) if own_key.startswith(BODY_PREFIX) else None

    def finish(self, inflate_divide: bool = True) -> None:
        """Load the local checkpoint once the adapters are in place (names are final)."""
        if self._weights is not None:
            self.load_audit = load_local_weights(
                self, self._weights, key_map=self.checkpoint_key, inflate_divide=inflate_divide
            )
            self.after_load(self.load_audit)

    def after_load(self, audit: LoadAudit) -> None:
        """Hook for tensors derived from loaded ones (TDN's difference stem)."""

    # -- forward helpers ------------------------------------------------------------------
    def check_clip(self, video: torch.Tensor) -> None:
        expected = self.clip_len + 2 * self.context_frames
        if video.dim() != 5 or video.shape[1] != expected:
            raise ValueError(
                f"{type(self).__name__} expects (B, {expected}, C, H, W) clips, "
                f"got {tuple(video.shape)}"
            )

    def stem(self, frames: torch.Tensor) -> torch.Tensor:
        body = self.body
        return body.maxpool(body.act1(body.bn1(body.conv1(frames))))

    def to_frames(self, video: torch.Tensor) -> torch.Tensor:
        return frames_from_clip(video, legacy=self.legacy_layout)

    def to_outputs(self, features: torch.Tensor, stage_time: int) -> torch.Tensor:
        """A stage map with ``stage_time`` frames per clip → K per-frame maps."""
        if self.legacy_layout and self.scramble_outputs:
            features = legacy_frames_from_features(features, stage_time)
        return frames_to_clip_len(features, stage_time, self.clip_len)

    @property
    def legacy_neck(self) -> bool:
        """Whether the detector orders the neck as the reference does for this instance (which
        parts: the ``legacy_*`` class facts); the switch is ``legacy_layout``."""
        return self.legacy_layout

    def stage_maps(self, video: torch.Tensor) -> tuple[list[torch.Tensor], list[int]]:
        """The four stage maps as the network leaves them, ``(B*T_s, C, h, w)``, and each
        one's frames per clip T_s — before the output reshape (:meth:`frame_maps`)."""
        self.check_clip(video)
        x = self.stem(self.to_frames(video))
        maps = []
        for index in range(1, 5):
            x = self.stage(index)(x)
            maps.append(x)
        return maps, [self.clip_len] * 4

    def frame_maps(self, maps: list[torch.Tensor], times: list[int]) -> list[torch.Tensor]:
        """The output reshape of every level: ``(B*T_s, C, h, w)`` maps (stage maps, or the
        neck's upsampled versions of them) → K per-frame maps each."""
        return [self.to_outputs(m, time) for m, time in zip(maps, times, strict=True)]

    def forward(self, video: torch.Tensor) -> list[torch.Tensor]:
        return self.frame_maps(*self.stage_maps(video))
