"""STA-mode decoder (protocol §8 step 3) and the §14 decoder check."""

from __future__ import annotations

import pytest
import torch

from iodvideo.detections import boxes_to_image, decode_clips, decode_sta

from .helpers import IMAGE, MAP, assert_static_boxes_in_image


def test_zero_offsets_give_the_key_peak_box_on_every_frame() -> None:
    clip_len, w, h = 8, 12.0, 9.0
    hm = torch.zeros(1, 1, 72, 72)
    peaks = [(30, 40, 0.9), (1, 70, 0.6)]
    for x, y, s in peaks:
        hm[0, 0, y, x] = s
    wh = torch.zeros(1, 2 * clip_len, 72, 72)
    wh[:, 0::2], wh[:, 1::2] = w, h
    sta = torch.zeros_like(wh)
    dets = boxes_to_image(decode_sta(hm, wh, sta, top_n=2), MAP, IMAGE)
    assert_static_boxes_in_image(dets[0], peaks, w, h, clip_len)


def test_offsets_are_scaled_and_sizes_read_at_the_peak() -> None:
    hm = torch.zeros(1, 1, 10, 12)
    hm[0, 0, 4, 5] = 0.8
    wh = torch.zeros(1, 4, 10, 12)
    wh[0, :, 4, 5] = torch.tensor([2.0, 4.0, 6.0, 8.0])  # (w0, h0, w1, h1) at the peak only
    sta = torch.zeros(1, 4, 10, 12)
    sta[0, :, 4, 5] = torch.tensor([0.5, -0.25, 0.0, 1.0])
    det = decode_sta(hm, wh, sta, top_n=1, offset_scale=4.0)[0, 0]
    # frame 0: centre (5 + 2, 4 - 1), size 2x4; frame 1: centre (5, 4 + 4), size 6x8.
    torch.testing.assert_close(det[:4], torch.tensor([6.0, 1.0, 8.0, 5.0]))
    torch.testing.assert_close(det[4:8], torch.tensor([2.0, 4.0, 8.0, 12.0]))
    out = {"hm": torch.logit(hm.clamp(1e-6, 1 - 1e-6)), "wh": wh, "sta": sta}
    torch.testing.assert_close(decode_clips(out, "sta", 1, 4.0), decode_sta(
        torch.sigmoid(out["hm"]), wh, sta, 1, 4.0))
    with pytest.raises(ValueError, match="'sta' head"):
        decode_clips({"hm": hm, "wh": wh, "mov": sta}, "sta")
    with pytest.raises(ValueError, match="mov' or 'sta"):
        decode_clips(out, "other")
