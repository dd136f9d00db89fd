"""Shared expectations of the decoder tests."""

from __future__ import annotations

import pytest
import torch

MAP, IMAGE = (72, 72), (240, 320)  # output-map and image (height, width) of the tests


def assert_static_boxes_in_image(
    image_dets: torch.Tensor, peaks: list[tuple[int, int, float]], w: float, h: float,
    clip_len: int,
) -> None:
    """Each detection is its peak's ``w × h`` box on every frame, scaled from the 72×72 map to
    the 240×320 image and clipped to it, with the peak's score."""
    (map_h, map_w), (image_h, image_w) = MAP, IMAGE
    sx, sy = image_w / map_w, image_h / map_h
    for det, (x, y, score) in zip(image_dets, peaks, strict=True):
        expected = torch.tensor([
            min(max((x - w / 2) * sx, 0), image_w - 1), min(max((y - h / 2) * sy, 0), image_h - 1),
            min(max((x + w / 2) * sx, 0), image_w - 1), min(max((y + h / 2) * sy, 0), image_h - 1),
        ])
        torch.testing.assert_close(det[:-1].reshape(clip_len, 4), expected.expand(clip_len, 4))
        assert det[-1].item() == pytest.approx(score)
