import torch

from iodvideo.tensor_ops import gather_at


def test_gather_at_key_and_per_channel_indices():
    maps = torch.arange(2 * 4 * 3 * 3, dtype=torch.float32).reshape(2, 4, 3, 3)
    key = gather_at(maps, torch.tensor([[4], [0]]))
    assert key.shape == (2, 1, 4)
    assert key[0, 0].tolist() == [4, 13, 22, 31] and key[1, 0].tolist() == [36, 45, 54, 63]
    per_channel = gather_at(maps, torch.tensor([[[0, 0, 8, 8]], [[1, 1, 1, 1]]]))
    assert per_channel[0, 0].tolist() == [0, 9, 26, 35]
