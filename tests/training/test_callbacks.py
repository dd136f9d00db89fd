"""The validation-image callback's rendering."""

import torch

from iodvideo.training.callbacks import render_key_frames


def test_key_frames_render_with_several_class_channels():
    k, grid, size, objects = 2, 4, 16, 3
    batch = {
        "video": torch.randn(2, k, 3, size, size),
        "hm": torch.zeros(2, 3, grid, grid),  # three classes
        "mask": torch.tensor([[1.0, 0, 0], [0, 0, 0]]),
        "centers": torch.full((2, objects, 2 * k), 2.0),
        "wh": torch.ones(2, objects, 2 * k),
    }
    dets = torch.zeros(2, 5, 4 * k + 2)  # boxes, score, and whatever columns follow
    dets[:, 0, : 4 * k] = torch.tensor([1.0, 1.0, 3.0, 3.0] * k)
    image = render_key_frames(batch, dets, k, num_images=2)
    assert image.dtype == torch.uint8 and image.shape == (3, size + 4, 2 * size + 6)
