"""decode_batch: the one path from a batch's head outputs to per-clip tubelets in pixels."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from iodvideo.detections.batch import DecodeSettings, decode_batch
from iodvideo.detections.decode import boxes_to_image, decode_clips
from iodvideo.errors import ConfigError


def _outputs(batch: int = 3, clip_len: int = 2, size: int = 6) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    shape = (batch, 2 * clip_len, size, size)
    return {
        "hm": torch.randn(batch, 1, size, size, generator=generator),
        "wh": torch.rand(*shape, generator=generator) * 3,
        "mov": torch.randn(*shape, generator=generator),
        "sta": torch.tanh(torch.randn(*shape, generator=generator)),
    }


def test_each_clip_is_scaled_to_its_own_resolution_and_keys_pass_through() -> None:
    out = _outputs()
    batch = {"image_hw": torch.tensor([[24, 36], [48, 12], [6, 6]]),
             "video_idx": torch.tensor([2, 0, 2]), "start": torch.tensor([1, 5, 2])}
    settings = DecodeSettings("mov", top_n=4)
    decoded = decode_batch(out, batch, settings)
    grid = decode_clips(out, "mov", 4)
    torch.testing.assert_close(decoded.grid, grid)
    for i, hw in enumerate(batch["image_hw"].tolist()):
        torch.testing.assert_close(decoded.tubelets[i], boxes_to_image(grid[i], (6, 6), tuple(hw)))
    clips = list(decoded.clips())
    assert [(vi, s) for vi, s, _ in clips] == [(2, 1), (0, 5), (2, 2)]
    assert clips[1][2].dtype == np.float64 and clips[1][2].shape == (4, 4 * 2 + 1)
    assert clips[1][2][:, 0:-1:2].max() <= 11 and clips[1][2][:, 1:-1:2].max() <= 47


def test_sta_mode_bf16_outputs_and_bad_batches() -> None:
    out = {k: v.bfloat16() for k, v in _outputs(batch=2).items()}
    batch = {"image_hw": [(12, 12), (12, 12)]}
    decoded = decode_batch(out, batch, DecodeSettings("sta", top_n=3, offset_scale=2.0))
    expected = decode_clips({k: v.float() for k, v in out.items()}, "sta", 3, 2.0)
    torch.testing.assert_close(decoded.grid, expected)
    assert decoded.tubelets.dtype == torch.float32 and decoded.video_idx is None
    with pytest.raises(ValueError, match="no video_idx/start"):
        list(decoded.clips())
    with pytest.raises(ValueError, match="image_hw has 1 entries for a batch of 2"):
        decode_batch(out, {"image_hw": [(12, 12)]}, DecodeSettings())
    with pytest.raises(ConfigError, match="decode.mode must be 'mov' or 'sta', got 'box'"):
        DecodeSettings("box")
