"""infer_clips: every clip of a loader decoded per video, exactly like decode_batch."""

from __future__ import annotations

import torch
from torch import nn

from iodvideo.detections.batch import DecodeSettings, decode_batch
from iodvideo.inference.loader import infer_clips


class _Heads(nn.Module):
    """A tiny stand-in detector: a fixed function of the clip's pixels."""

    clip_len = 2

    def forward(self, video: torch.Tensor) -> dict[str, torch.Tensor]:
        grey = video.mean(dim=(1, 2), keepdim=False)[:, None]  # (B, 1, S, S)
        maps = grey.repeat(1, 2 * self.clip_len, 1, 1)
        return {"hm": grey, "wh": maps.abs() + 1, "mov": maps * 0.1}


def test_clips_of_all_batches_per_video_name() -> None:
    generator = torch.Generator().manual_seed(0)
    batches = [
        {"video": torch.randn(2, 2, 3, 8, 8, generator=generator),
         "video_idx": torch.tensor([0, 1]), "start": torch.tensor([1, 1]),
         "image_hw": torch.tensor([[16, 16], [32, 24]])},
        {"video": torch.randn(1, 2, 3, 8, 8, generator=generator),
         "video_idx": torch.tensor([1]), "start": torch.tensor([2]),
         "image_hw": torch.tensor([[32, 24]])},
    ]
    settings = DecodeSettings(top_n=3)
    clips = infer_clips(_Heads(), batches, ["a", "b"], settings)[0]
    assert {v: sorted(c) for v, c in clips.items()} == {"a": [1], "b": [1, 2]}
    detector = _Heads()
    expected = decode_batch(detector(batches[1]["video"]), batches[1], settings)
    torch.testing.assert_close(torch.from_numpy(clips["b"][2]),
                               expected.tubelets[0].double())
    assert clips["a"][1].shape == (3, 4 * 2 + 1)
