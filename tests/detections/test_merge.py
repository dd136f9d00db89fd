"""Clip tubelets → per-frame detection rows (protocol §9.1 step 1)."""

from __future__ import annotations

import numpy as np
import pytest

from iodvideo.detections import clips_to_frame_detections


def _clip(start: int, n: int, clip_len: int) -> np.ndarray:
    """Tubelets whose box values encode (start, tubelet, k) and score encodes (start, tubelet)."""
    boxes = np.array([
        [[start, j, k, 100 * start + 10 * j + k] for k in range(clip_len)] for j in range(n)
    ], dtype=np.float64).reshape(n, 4 * clip_len)
    scores = np.array([[start + j / 10] for j in range(n)])
    return np.hstack((boxes, scores)).astype(np.float32)


def test_rows_land_on_start_plus_k_in_reference_order() -> None:
    clip_len = 3
    clips = {3: _clip(3, 1, clip_len), 1: _clip(1, 2, clip_len), 2: _clip(2, 2, clip_len)}
    rows = clips_to_frame_detections(clips, clip_len)
    assert rows.shape == ((2 + 2 + 1) * clip_len, 6) and rows.dtype == np.float64
    # Each row's box encodes its (start, tubelet, k): frame must be start + k.
    np.testing.assert_array_equal(rows[:, 0], rows[:, 1] + rows[:, 3])
    np.testing.assert_allclose(rows[:, 5], rows[:, 1] + rows[:, 2] / 10, rtol=1e-6)
    # Frame-major, then clip start, then tubelet.
    keys = [tuple(r) for r in rows[:, [0, 1, 2]]]
    assert keys == sorted(keys)
    np.testing.assert_array_equal(np.bincount(rows[:, 0].astype(int)), [0, 2, 4, 5, 3, 1])


def test_empty_input_and_bad_shapes() -> None:
    assert clips_to_frame_detections({}, 8).shape == (0, 6)
    assert clips_to_frame_detections({1: np.zeros((0, 33))}, 8).shape == (0, 6)
    with pytest.raises(ValueError, match="clip starting at frame 5"):
        clips_to_frame_detections({5: np.zeros((2, 33))}, 4)
