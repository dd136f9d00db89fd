"""Motion channels: grey, causal frame difference and its magnitude; stream == clip."""

from __future__ import annotations

import functools

import pytest
import torch

from iodvideo.models.detector import ClipDetector
from iodvideo.models.heads import ClipHeads
from iodvideo.models.motion_input import MotionChannels
from iodvideo.models.neck import FusionNeck
from iodvideo.models.temporal import FrameBackbone


def _ir_clip(frames: int = 5, seed: int = 0) -> torch.Tensor:
    """(1, T, 3, 8, 8): three identical channels, as IR frames are."""
    grey = torch.randn(1, frames, 1, 8, 8, generator=torch.Generator().manual_seed(seed))
    return grey.expand(-1, -1, 3, -1, -1).clone()


def test_channels_are_grey_difference_and_magnitude() -> None:
    clip = _ir_clip()
    out = MotionChannels(gain=2.0)(clip)
    grey = clip[:, :, 0]
    assert out.shape == clip.shape
    torch.testing.assert_close(out[:, :, 0], grey)
    assert torch.count_nonzero(out[:, 0, 1:]) == 0  # no frame before the first
    torch.testing.assert_close(out[:, 1:, 1], 2.0 * (grey[:, 1:] - grey[:, :-1]))
    torch.testing.assert_close(out[:, :, 2], out[:, :, 1].abs())


def test_a_static_scene_has_no_motion() -> None:
    still = _ir_clip(frames=1).expand(-1, 6, -1, -1, -1)
    out = MotionChannels()(still)
    assert torch.count_nonzero(out[:, :, 1:]) == 0
    assert torch.count_nonzero(out[:, :, 0]) > 0


def test_grey_is_the_channel_mean_for_colour_input() -> None:
    clip = torch.randn(2, 3, 3, 4, 4)
    torch.testing.assert_close(MotionChannels()(clip)[:, :, 0], clip.mean(dim=2))


def test_frame_by_frame_equals_the_clip() -> None:
    clip = _ir_clip(frames=6, seed=1)
    motion = MotionChannels()
    previous = None
    steps = []
    for t in range(clip.shape[1]):
        steps.append(motion.step(clip[:, t], previous))
        previous = clip[:, t]
    torch.testing.assert_close(torch.stack(steps, dim=1), motion(clip))


def test_wrong_shape_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"\(B, T, 3, H, W\)"):
        MotionChannels()(torch.randn(1, 4, 1, 8, 8))


def test_detector_sees_motion_channels_only_when_asked() -> None:
    def detector(motion: bool) -> ClipDetector:
        torch.manual_seed(0)
        return ClipDetector(
            FrameBackbone("resnet18"),
            functools.partial(FusionNeck, channels=16, out_channels=8),
            functools.partial(ClipHeads, head_conv=16, wh_head_conv=8),
            clip_len=3, motion_input=motion,
        ).eval()

    plain, moving = detector(False), detector(True)
    assert plain.motion_input is None and isinstance(moving.motion_input, MotionChannels)
    clip = torch.randn(1, 3, 3, 32, 32)
    with torch.no_grad():
        # same weights: the motion detector equals the plain one fed the motion channels
        torch.testing.assert_close(moving(clip)["hm"], plain(MotionChannels()(clip))["hm"])
        assert not torch.allclose(moving(clip)["hm"], plain(clip)["hm"])
