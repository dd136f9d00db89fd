"""Shared by the format tests: a hand-built IOD-Video pickle and a lossless comparison."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from iodvideo.data.annotations import Annotations

REPO = Path(__file__).resolve().parents[3]
# Same place tests/conftest.py looks for the real annotations (IODVIDEO_ANNOTATIONS overrides).
REAL_DIR = Path(os.environ.get("IODVIDEO_ANNOTATIONS",
                               REPO.parent / "shared" / "data" / "iodvideo-annotations"))


def real_pickle(name: str) -> Path:
    path = REAL_DIR / name
    if not path.is_file():
        pytest.skip(f"real IOD-Video annotations not found at {path} (set IODVIDEO_ANNOTATIONS)")
    return path


def hand_built_pickle(path: Path) -> Path:
    """Two labels, one video with two tubes, fractional and out-of-image coordinates."""
    a = np.array([[1, -3, 0, 40.5, 30], [2, -2.25, 1, 41, 31], [3, 0, 2, 42, 32.125]],
                 dtype=np.float32)
    b = np.array([[1, 5, 5, 9, 9], [2, 5, 5, 9.5, 9], [3, 6, 5, 10, 10]], dtype=np.float32)
    c = np.array([[f, 10 + f / 3, 10, 60, 50] for f in range(1, 5)], dtype=np.float32)
    videos = ["A/x_clear", "A/y_vague", "B/z"]
    content = {
        "labels": ["gas", "steam"],
        "gttubes": {"A/x_clear": {0: [a], 1: [b]}, "A/y_vague": {0: [c]},
                    "B/z": {1: [c.copy()]}},
        "nframes": {"A/x_clear": 3, "A/y_vague": 4, "B/z": 4},
        "train_videos": [[videos[1], videos[2]], [videos[0]]],
        "test_videos": [[videos[0]], [videos[2], videos[1]]],
        "resolution": {"A/x_clear": (48, 64), "A/y_vague": (60, 80), "B/z": (60, 80)},
    }
    path.write_bytes(pickle.dumps(content, protocol=4))
    return path


def assert_same(a: Annotations, b: Annotations) -> None:
    assert a.labels == b.labels
    assert a.nframes == b.nframes
    assert a.resolution == b.resolution
    assert a.train_videos == b.train_videos and a.test_videos == b.test_videos
    assert a.gttubes.keys() == b.gttubes.keys()
    for video, labels in a.gttubes.items():
        assert labels.keys() == b.gttubes[video].keys(), video
        for label, tubes in labels.items():
            other = b.gttubes[video][label]
            assert len(tubes) == len(other), video
            for x, y in zip(tubes, other, strict=True):
                assert y.dtype == np.float32 and np.array_equal(x, y), video
