"""MOV-mode decoder (protocol §8): peaks, per-frame centres, wh look-up quirks, image scaling."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from iodvideo.detections import boxes_to_image, decode_mov

from .helpers import IMAGE, MAP, assert_static_boxes_in_image


def _maps(batch: int, clip_len: int, height: int, width: int) -> tuple[torch.Tensor, ...]:
    hm = torch.zeros(batch, 1, height, width)
    wh = torch.zeros(batch, 2 * clip_len, height, width)
    mov = torch.zeros(batch, 2 * clip_len, height, width)
    return hm, wh, mov


def test_zero_mov_gives_key_box_on_every_frame_and_scales_to_image() -> None:
    clip_len, w, h = 8, 10.0, 8.0
    hm, wh, mov = _maps(1, clip_len, 72, 72)
    peaks = [(30, 40, 0.9), (2, 70, 0.7), (71, 0, 0.5)]  # (x, y, score); two near borders
    for x, y, score in peaks:
        hm[0, 0, y, x] = score
    wh[:, 0::2], wh[:, 1::2] = w, h

    dets = decode_mov(hm, wh, mov, top_n=3)
    assert dets.shape == (1, 3, 4 * clip_len + 1)
    for det, (x, y, score) in zip(dets[0], peaks, strict=True):
        assert det[-1].item() == pytest.approx(score)
        key_box = torch.tensor([x - w / 2, y - h / 2, x + w / 2, y + h / 2])
        torch.testing.assert_close(det[:-1].reshape(clip_len, 4), key_box.expand(clip_len, 4))

    image = boxes_to_image(dets, MAP, IMAGE)
    assert_static_boxes_in_image(image[0], peaks, w, h, clip_len)
    assert image[0, 1, 0].item() == 0.0 and image[0, 1, 3].item() == 239.0  # clipped
    assert image[0, 2, 2].item() == 319.0


def test_mov_moves_centres_and_wh_is_read_at_truncated_moved_centre() -> None:
    clip_len, height, width = 3, 6, 8  # key frame 1; non-square grid catches x/y swaps
    hm, wh, mov = _maps(2, clip_len, height, width)
    code = torch.arange(height * width, dtype=torch.float32).reshape(height, width) + 1
    wh[:, 0::2], wh[:, 1::2] = code, 2 * code  # (w, h) at pixel (x, y) = (c, 2c), c = 8y + x + 1

    # Clip 0: peak at (x=3, y=4).
    hm[0, 0, 4, 3] = 0.9
    moves0 = [(1.7, -2.2), (1.5, -1.5), (-4.5, 0.3)]
    # frame 0 → centre (4.7, 1.8), wh at (4, 1); key frame → centre (4.5, 2.5) but wh at the
    # peak (3, 4); frame 2 → centre (-1.5, 4.3), trunc (-1, 4), flat 31 wraps to (7, 3).
    read0 = [(4, 1), (3, 4), (7, 3)]
    # Clip 1: peak at (0, 0); flat index clamped at both ends: (-2, 0) → 0 and (9, 9) → 47.
    hm[1, 0, 0, 0] = 0.8
    moves1 = [(-2.5, 0.2), (0.0, 0.0), (9.2, 9.9)]
    read1 = [(0, 0), (0, 0), (7, 5)]
    for b, moves in enumerate((moves0, moves1)):
        for k, (dx, dy) in enumerate(moves):
            mov[b, 2 * k], mov[b, 2 * k + 1] = dx, dy

    dets = decode_mov(hm, wh, mov, top_n=1)
    for b, (peak, moves, reads) in enumerate((((3, 4), moves0, read0), ((0, 0), moves1, read1))):
        for k, ((dx, dy), (rx, ry)) in enumerate(zip(moves, reads, strict=True)):
            cx, cy = peak[0] + dx, peak[1] + dy
            c = 8 * ry + rx + 1
            expected = torch.tensor([cx - c / 2, cy - c, cx + c / 2, cy + c])
            torch.testing.assert_close(dets[b, 0, 4 * k : 4 * k + 4], expected)
    torch.testing.assert_close(dets[:, 0, -1], torch.tensor([0.9, 0.8]))


def test_clip_sizes_give_every_frame_the_tubelet_mean_size() -> None:
    clip_len = 4
    hm, wh, mov = _maps(1, clip_len, 8, 8)
    hm[0, 0, 4, 4] = 0.9
    for k, (w, h) in enumerate([(2.0, 1.0), (4.0, 3.0), (6.0, 5.0), (8.0, 3.0)]):
        wh[0, 2 * k], wh[0, 2 * k + 1] = w, h
    mov[0, 0::2] = torch.tensor([0.0, 0.25, 0.5, 0.75])[:, None, None]  # centres move a little
    frame = decode_mov(hm, wh, mov, top_n=1)[0, 0, :-1].reshape(clip_len, 4)
    clip = decode_mov(hm, wh, mov, top_n=1, size_mode="clip")[0, 0, :-1].reshape(clip_len, 4)
    torch.testing.assert_close(frame[:, 2] - frame[:, 0], torch.tensor([2.0, 4.0, 6.0, 8.0]))
    torch.testing.assert_close(clip[:, 2] - clip[:, 0], torch.full((clip_len,), 5.0))
    torch.testing.assert_close(clip[:, 3] - clip[:, 1], torch.full((clip_len,), 3.0))
    # the centres are the decoder's either way
    torch.testing.assert_close(clip[:, 0] + clip[:, 2], frame[:, 0] + frame[:, 2])
    with pytest.raises(ValueError, match="decode sizes must be one of"):
        decode_mov(hm, wh, mov, top_n=1, size_mode="median")


def test_nms_suppresses_non_maximal_neighbour() -> None:
    hm, wh, mov = _maps(1, 1, 8, 8)
    hm[0, 0, 3, 3], hm[0, 0, 3, 4], hm[0, 0, 6, 6] = 0.9, 0.8, 0.5
    dets = decode_mov(hm, wh, mov, top_n=3)
    torch.testing.assert_close(dets[0, :, -1], torch.tensor([0.9, 0.5, 0.0]))
    torch.testing.assert_close(dets[0, 1, :2], torch.tensor([6.0, 6.0]))  # zero wh: box = point


def test_top_n_is_capped_at_grid_size_and_shapes_are_checked() -> None:
    hm, wh, mov = _maps(2, 2, 6, 8)
    assert decode_mov(torch.rand_like(hm), wh, mov).shape == (2, 48, 9)
    with pytest.raises(ValueError, match="must both be"):
        decode_mov(hm, wh, mov[:, :2])
    with pytest.raises(ValueError, match="one channel per class"):
        decode_mov(hm[:, 0], wh, mov)


def test_several_classes_rank_peaks_of_all_channels_together_with_their_class() -> None:
    """Top N over (class, pixel): each peak keeps its own channel's score and class; NMS is
    per channel (peaks of two classes on one pixel both survive); the box does not depend on
    the class (sizes and movements are shared)."""
    clip_len = 2
    hm, wh, mov = _maps(1, clip_len, 6, 8)
    hm = torch.zeros(1, 3, 6, 8)
    hm[0, 0, 1, 1], hm[0, 2, 1, 1], hm[0, 1, 4, 6], hm[0, 1, 4, 5] = 0.4, 0.9, 0.7, 0.6
    wh[:, 0::2], wh[:, 1::2] = 2.0, 4.0
    dets, labels = decode_mov(hm, wh, mov, top_n=3, return_labels=True)
    torch.testing.assert_close(dets[0, :, -1], torch.tensor([0.9, 0.7, 0.4]))
    assert labels.tolist() == [[2, 1, 0]]
    torch.testing.assert_close(dets[0, 0, :4], torch.tensor([0.0, -1.0, 2.0, 3.0]))
    torch.testing.assert_close(dets[0, 0, :4], dets[0, 2, :4])  # same pixel, other class
    torch.testing.assert_close(dets[0, 1, :4], torch.tensor([5.0, 2.0, 7.0, 6.0]))


def test_one_class_decodes_as_before_and_labels_are_zero() -> None:
    hm, wh, mov = _maps(2, 2, 6, 8)
    hm = torch.rand_like(hm)
    dets, labels = decode_mov(hm, wh, mov, top_n=5, return_labels=True)
    torch.testing.assert_close(dets, decode_mov(hm, wh, mov, top_n=5))
    assert labels.shape == (2, 5) and not labels.any()


def test_boxes_to_image_same_for_numpy_and_torch_and_leaves_input() -> None:
    dets = torch.tensor([[[-1.0, 2.0, 80.0, 71.0, -3.0, 0.0, 10.0, 75.0, 0.25]]])
    original = dets.clone()
    scaled = boxes_to_image(dets, (72, 72), (240, 320))
    np.testing.assert_allclose(
        scaled.numpy(), boxes_to_image(dets.numpy(), (72, 72), (240, 320)), rtol=1e-6
    )
    expected = [0.0, 2 * 240 / 72, 319.0, 71 * 240 / 72, 0.0, 0.0, 10 * 320 / 72, 239.0, 0.25]
    torch.testing.assert_close(scaled[0, 0], torch.tensor(expected))
    torch.testing.assert_close(dets, original)
