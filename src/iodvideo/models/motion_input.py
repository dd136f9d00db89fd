"""Motion channels at the input: grey level, frame difference and its magnitude.

Why: insubstantial objects are seen through their motion, and infrared frames are grey (the
three input channels of IOD-Video and SynthIOD frames are identical), so two of the three
channels carry nothing a first conv could not get from the third. Replacing them with the
signed difference to the previous frame and its magnitude hands a randomly initialised network
the cue that separates gas from a static background at its first layer, instead of leaving it
to learn temporal differencing through shifted channels deep in the body (TDN's stem feeds RGB
differences for the same reason). On SynthIOD, CPU scale, this is what makes a short run
learn (docs/learning.md).

The difference is causal (frame t minus frame t−1; zero for a clip's first frame), so a
stream can compute it frame by frame (:meth:`MotionChannels.step`, used by online TSM).
"""

from __future__ import annotations

import torch
from torch import nn

# frame differences of IR video are a few grey levels (~0.01-0.1 in normalised units); scaled so
# that they enter the first conv at about the grey channel's magnitude
DIFFERENCE_GAIN = 8.0


class MotionChannels(nn.Module):
    """``(B, T, 3, H, W)`` normalised clip → ``(B, T, 3, H, W)`` = grey, gain·Δ, gain·|Δ|.

    ``grey`` is the mean of the three channels (for IR frames a fixed affine map of the pixel
    value), ``Δ_t = grey_t − grey_{t−1}`` with ``Δ_0 = 0``. No parameters.
    """

    def __init__(self, gain: float = DIFFERENCE_GAIN) -> None:
        super().__init__()
        self.gain = float(gain)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        if video.dim() != 5 or video.shape[2] != 3:
            raise ValueError(f"MotionChannels expects (B, T, 3, H, W) clips, got "
                             f"{tuple(video.shape)}")
        grey = video.mean(dim=2)
        # concatenation, not in-place assignment: one graph for autograd, TorchScript and ONNX
        delta = torch.cat([torch.zeros_like(grey[:, :1]), grey[:, 1:] - grey[:, :-1]], dim=1)
        return self._channels(grey, delta, dim=2)

    def step(self, frame: torch.Tensor, previous: torch.Tensor | None) -> torch.Tensor:
        """One frame ``(N, 3, H, W)`` of a stream given the previous raw frame (None: first)."""
        grey = frame.mean(dim=1)
        delta = grey - previous.mean(dim=1) if previous is not None else torch.zeros_like(grey)
        return self._channels(grey, delta, dim=1)

    def _channels(self, grey: torch.Tensor, delta: torch.Tensor, dim: int) -> torch.Tensor:
        delta = delta * self.gain
        return torch.stack([grey, delta, delta.abs()], dim=dim)

    def extra_repr(self) -> str:
        return f"gain={self.gain}"
