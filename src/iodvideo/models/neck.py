"""The shared multi-level fusion neck (protocol §5.2), generalised to any widths.

Every backbone ends here, so the heads never change when the backbone does: four stage maps
of one frame (strides 4, 8, 16, 32) become one ``out_channels`` map at stride 4.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from iodvideo.models.upsampling import AdjointConvTranspose2d


class L2Norm(nn.Module):
    """Per-pixel L2 normalisation over channels with a learnable per-channel scale (init 10)."""

    def __init__(self, channels: int, scale: float = 10.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full((channels,), scale))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The norm is taken in x's dtype (the CPU and CUDA reductions accumulate bf16 in fp32;
        # only the result is rounded, to bf16's 0.4 %, like the output itself). An fp32 norm
        # of a bf16 x would make its backward a mixed-dtype division, which runs unvectorised
        # (2x slower for the whole L2Norm on CPU); an fp32 output would turn the neck's concat
        # into fp32.
        norm = torch.linalg.vector_norm(x, dim=1, keepdim=True) + 1e-10
        return x / norm * self.weight.to(x.dtype).view(1, -1, 1, 1)


def _up(in_ch: int, out_ch: int, factor: int) -> nn.ConvTranspose2d:
    """Learned upsampling by 2 (k4 s2 p1) or 4 (k4 s4 p0), as in the reference neck."""
    padding = {2: 1, 4: 0}[factor]
    return AdjointConvTranspose2d(in_ch, out_ch, kernel_size=4, stride=factor, padding=padding)


class FusionNeck(nn.Module):
    """L2Norm + deconvolutions bring stages 2..5 to stride 4; two conv-BN-ReLU fuse them.

    With ResNet-50 widths (256, 512, 1024, 2048) and ``channels=256`` this is exactly the
    reference neck; other widths (resnet18, tiny test models) keep the same structure.
    """

    def __init__(
        self, in_channels: Sequence[int], channels: int = 256, out_channels: int = 64
    ) -> None:
        super().__init__()
        c2, c3, c4, c5 = in_channels
        self.level2 = L2Norm(c2)
        self.level3 = nn.Sequential(L2Norm(c3), _up(c3, channels, 2))
        self.level4 = nn.Sequential(L2Norm(c4), _up(c4, channels, 4))
        self.level5 = nn.Sequential(
            L2Norm(c5), _up(c5, 2 * channels, 2),
            L2Norm(2 * channels), _up(2 * channels, channels, 4),
        )
        self.fuse = nn.Sequential(
            nn.Conv2d(c2 + 3 * channels, channels, 3, padding=1),
            nn.BatchNorm2d(channels, momentum=0.01),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels, out_channels, 3, padding=1),
            nn.BatchNorm2d(out_channels, momentum=0.01),
            nn.ReLU(inplace=True),
        )
        self.out_channels = out_channels
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.xavier_normal_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Conv2d):  # He-normal fan-out; biases keep PyTorch default
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def upsample(self, features: Sequence[torch.Tensor]) -> list[torch.Tensor]:
        """L2Norm + deconvolutions: the four stage maps → four maps at stride 4.

        Separate from :meth:`fuse_levels` because legacy TAM/TDN run this part on the stage
        maps before the backbone's output reshape (see ``ClipDetector.frame_features``)."""
        s2, s3, s4, s5 = features
        return [self.level2(s2), self.level3(s3), self.level4(s4), self.level5(s5)]

    def fuse_levels(self, levels: Sequence[torch.Tensor]) -> torch.Tensor:
        """Concatenate the stride-4 levels and fuse them (the two conv-BN-ReLU)."""
        return self.fuse(torch.cat(list(levels), dim=1))

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.fuse_levels(self.upsample(features))
