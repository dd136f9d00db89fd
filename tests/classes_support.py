"""A tiny IOD-Video-layout folder with two classes (gas, steam), for the tests of training on
several classes: PNG frames and an annotation pickle, written in a blink."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from iodvideo.data.annotations import dump_annotation_pickle

LABELS = ["gas", "steam"]
GAS_BOX = (8, 8, 24, 24)  # x1, y1, x2, y2 in pixels, on every frame
STEAM_BOX = (36, 32, 56, 56)


def video_name(index: int) -> str:
    return f"Own/{index:03d}_yard_static_clear"


def write_two_class_root(
    root: Path, num_videos: int = 4, nframes: int = 10, size: int = 64
) -> Path:
    """``num_videos`` videos of ``nframes`` grey ``size``² frames, each with a still gas tube
    (class 0) and, in every other video, a still steam tube (class 1) listed first in
    ``gttubes`` under label 1; split 1 trains on all videos but the last, tests on the last."""
    videos = [video_name(i) for i in range(1, num_videos + 1)]
    gttubes = {}
    for v, video in enumerate(videos):
        folder = root / "Frames" / video
        folder.mkdir(parents=True)
        for f in range(1, nframes + 1):
            image = np.full((size, size, 3), 40 + f, np.uint8)
            image[GAS_BOX[1]:GAS_BOX[3], GAS_BOX[0]:GAS_BOX[2]] = 200
            if v % 2 == 0:
                image[STEAM_BOX[1]:STEAM_BOX[3], STEAM_BOX[0]:STEAM_BOX[2]] = 120
            cv2.imwrite(str(folder / f"{f:05d}.png"), image)
        frames = np.arange(1, nframes + 1, dtype=np.float32)[:, None]
        entry = {}
        if v % 2 == 0:  # label 1 first: tube order is not label order
            entry[1] = [np.hstack([frames, np.tile(np.float32(STEAM_BOX), (nframes, 1))])]
        entry[0] = [np.hstack([frames, np.tile(np.float32(GAS_BOX), (nframes, 1))])]
        gttubes[video] = entry
    annotations = {
        "labels": list(LABELS), "nframes": dict.fromkeys(videos, nframes),
        "resolution": dict.fromkeys(videos, (size, size)),
        "train_videos": [videos[:-1]], "test_videos": [videos[-1:]], "gttubes": gttubes,
    }
    dump_annotation_pickle(annotations, root / "TrueLeakedGas.pkl")
    return root
