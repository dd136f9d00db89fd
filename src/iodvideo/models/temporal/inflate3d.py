"""3D inflation of a timm 2D ResNet: I3D and S3D (protocol §5.5.7).

The timm network is converted in place — every Conv2d/BatchNorm2d/MaxPool2d becomes its 3D
counterpart under the same name — so timm's own block ``forward`` runs on ``(B, C, T, H, W)``
and a 2D checkpoint loads by name, each 2D kernel inflated along time by the loader (divided by
the temporal kernel size unless ``legacy_inflation``, quirk §11.5).

Layout: true 5D tensors, no scramble; ``legacy_layout`` only makes the detector run the neck
once per frame in training, as the reference does (``legacy_per_frame_neck``). Temporal
stride 2 goes wherever the 2D net has spatial stride 2 inside the stages (first block of
layers 2–4, conv and downsample), so T = K, K/2, K/4, K/8 per stage; output frame i takes
stage frame ``i·T_s // K`` (§11.6).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from iodvideo.models.original_keys import Shapes, has_key
from iodvideo.models.registry import register_backbone
from iodvideo.models.temporal.base import TemporalBackbone, he_normal_init


class TimePaddedConv3d(nn.Conv3d):
    """A Conv3d that zero-pads in time itself a clip shorter than its time kernel, when more
    than one frame comes out (the same result).

    oneDNN's bf16 backward-weights convolution (``jit_bf16:avx512_core_bf16``, what CPU bf16
    autocast runs on AVX-512 BF16 machines; PyTorch 2.14 / oneDNN 3.12) returns a wrong weight
    gradient when the kernel is deeper than the input and more than one frame comes out: a
    time kernel of 3 on a 2-frame map (layer3 at K = 8, layer2 at K = 4, layer4 at K = 16) gets
    wrong taps on every call and, on some calls, values ~1e33 or inf — which poisoned Adam and
    stopped I3D's bf16 training on a NaN heatmap loss (results/tables/README.md). Its forward
    and input gradient are right, as are fp32 and fp16, every map at least as deep as the
    kernel and every single output frame (I3D's ``layer4.*.conv1`` at K = 8, left as they are:
    padding would only add taps on zeros). Padded here, the map oneDNN sees is
    ``T + 2·pad ≥ kernel`` frames deep with no time padding: the same sums (the padded taps
    multiply zeros) on a correct path (tests/models/test_inflated_bf16.py).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = 0 if isinstance(self.padding, str) else self.padding[0]
        frames, extent = x.shape[2], self.dilation[0] * (self.kernel_size[0] - 1) + 1
        out_frames = (frames + 2 * pad - extent) // self.stride[0] + 1
        if not pad or self.padding_mode != "zeros" or frames >= extent or out_frames < 2:
            return super().forward(x)
        return F.conv3d(F.pad(x, (0, 0, 0, 0, pad, pad)), self.weight, self.bias, self.stride,
                        (0, *self.padding[1:]), self.dilation, self.groups)


def conv_to_3d(conv: nn.Conv2d, time_kernel: int, time_stride: int) -> nn.Conv3d:
    """An uninitialised Conv3d with ``conv``'s spatial geometry and the given temporal one."""
    return TimePaddedConv3d(
        conv.in_channels,
        conv.out_channels,
        (time_kernel, *conv.kernel_size),
        stride=(time_stride, *conv.stride),
        padding=(time_kernel // 2, *conv.padding),
        dilation=(1, *conv.dilation),
        groups=conv.groups,
        bias=conv.bias is not None,
    )


def bn_to_3d(bn: nn.BatchNorm2d, cls: type[nn.BatchNorm3d] = nn.BatchNorm3d) -> nn.BatchNorm3d:
    return cls(bn.num_features, eps=bn.eps, momentum=bn.momentum)


class SpatialBNThenTemporal(nn.BatchNorm3d):
    """S3D's separable tail: BN of the spatial (1,3,3) conv → ReLU → (3,1,1) conv → BN.

    A BatchNorm3d subclass, so the spatial conv's BN keeps its checkpoint name (``bn2``) while
    the new temporal conv/BN live under ``bn2.temporal.*``; the block's own ReLU follows.
    """

    def add_temporal(self, time_stride: int) -> SpatialBNThenTemporal:
        channels = self.num_features
        self.temporal = nn.Sequential(
            nn.ReLU(inplace=True),
            TimePaddedConv3d(channels, channels, (3, 1, 1), (time_stride, 1, 1), (1, 0, 0),
                             bias=False),
            nn.BatchNorm3d(channels),
        )
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.temporal(super().forward(x))


def _time_stride(conv: nn.Conv2d, temporal_stride: bool) -> int:
    return 2 if temporal_stride and conv.stride[0] == 2 else 1


def inflate_block(block: nn.Module, separable: bool, temporal_stride: bool) -> None:
    """Convert one BasicBlock/Bottleneck in place; its first 3×3 conv gets the temporal kernel.

    That conv is the strided one (Bottleneck ``conv2``, BasicBlock ``conv1``): I3D makes it
    3×3×3, S3D splits it into (1,3,3) + (3,1,1). All other convs become 1×k×k.
    """
    temporal_name = "conv2" if hasattr(block, "conv3") else "conv1"
    for name in ("conv1", "conv2", "conv3"):
        conv = getattr(block, name, None)
        if conv is None:
            continue
        bn_name = "bn" + name[-1]
        stride = _time_stride(conv, temporal_stride)
        if name == temporal_name and separable:
            setattr(block, name, conv_to_3d(conv, 1, 1))
            bn = bn_to_3d(getattr(block, bn_name), SpatialBNThenTemporal).add_temporal(stride)
            setattr(block, bn_name, bn)
            continue
        kernel = 3 if name == temporal_name else 1
        setattr(block, name, conv_to_3d(conv, kernel, stride))
        setattr(block, bn_name, bn_to_3d(getattr(block, bn_name)))
    if block.downsample is not None:
        conv, bn = block.downsample[0], block.downsample[1]
        block.downsample[0] = conv_to_3d(conv, 1, _time_stride(conv, temporal_stride))
        block.downsample[1] = bn_to_3d(bn)


class ExactMaxPool3d(nn.MaxPool3d):
    """MaxPool3d in its input's dtype. CPU autocast runs ``max_pool3d`` in fp32, which costs a
    bf16 → fp32 copy of the stem map, an fp32 pool and backward and a mixed-dtype gradient sum
    (~6 % of an I3D step at CPU scale); a max is exact in any dtype."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, enabled=False):
            return super().forward(x)


class Inflated3DBackbone(TemporalBackbone):
    """Shared I3D/S3D body: 3D stem (3,7,7) s(1,2,2), 3D max-pool (1,3,3), inflated stages."""

    separable = False
    legacy_per_frame_neck = True

    def __init__(
        self,
        model_name: str = "resnet50",
        clip_len: int = 8,
        temporal_stride: bool = True,
        legacy_inflation: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(model_name, clip_len, **kwargs)
        body = self.body
        if body.conv1.kernel_size != (7, 7):
            raise ValueError(f"{model_name}: 3D inflation expects the 7×7 ResNet stem")
        body.conv1 = conv_to_3d(body.conv1, 3, 1)
        body.bn1 = bn_to_3d(body.bn1)
        body.maxpool = ExactMaxPool3d((1, 3, 3), (1, 2, 2), (0, 1, 1))
        for _, _, block in self.blocks():
            inflate_block(block, self.separable, temporal_stride)
        he_normal_init(body)
        self.finish(inflate_divide=not legacy_inflation)

    def stage_maps(self, video: torch.Tensor) -> tuple[list[torch.Tensor], list[int]]:
        self.check_clip(video)
        batch = video.shape[0]
        x = self.stem(video.transpose(1, 2))  # (B, 3, T, H, W)
        maps, times = [], []
        for stage in range(1, 5):
            x = self.stage(stage)(x)
            time = x.shape[2]
            maps.append(x.transpose(1, 2).reshape(batch * time, *x.shape[1:2], *x.shape[3:]))
            times.append(time)
        return maps, times


@register_backbone("i3d")
class I3DBackbone(Inflated3DBackbone):
    """I3D ResNet: the strided 3×3 conv of each block inflated to 3×3×3 (protocol §5.5.7)."""

    @classmethod
    def original_matches(cls, shapes: Shapes) -> bool:
        return (len(shapes.get("backbone.conv1.weight", ())) == 5
                and not has_key(shapes, r"\.conv2_t\.weight$"))


@register_backbone("s3d")
class S3DBackbone(Inflated3DBackbone):
    """S3D ResNet: that conv factorised into (1,3,3) spatial + (3,1,1) temporal (§5.5.7)."""

    separable = True
    # original checkpoints: the temporal conv/BN are `conv2_t`/`bn2_t` beside the block's
    original_renames = ((r"\.conv2_t\.", ".bn2.temporal.1."), (r"\.bn2_t\.", ".bn2.temporal.2."))

    @classmethod
    def original_matches(cls, shapes: Shapes) -> bool:
        return has_key(shapes, r"^backbone\.layer1\.0\.conv2_t\.weight$")
