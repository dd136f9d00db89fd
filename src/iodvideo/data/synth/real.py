"""``trajectories=real``: take names, frame counts, boxes and splits from the real pickle.

With the real annotation as the skeleton, SynthIOD becomes a synthetic twin of IOD-Video
(600 videos, 141,017 frames at ``num_videos >= 600``) whose boxes, clip counts and split
statistics are exactly the real ones; only the pixels are synthetic. ``num_videos`` takes the
first videos by id (the split lists are filtered to them); boxes are rescaled if the
configured frame size differs from the real (h, w).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from iodvideo.data.synth.config import SynthConfig
from iodvideo.data.synth.layout import CLASS_NAME, NUM_SPLITS, STREAM_VIDEO, VideoPlan
from iodvideo.errors import ConfigError

REAL_PICKLE = "TrueLeakedGas.pkl"


def default_real_annotations() -> Path:
    """``$IODVIDEO_ANNOTATIONS`` or ``../shared/data/iodvideo-annotations`` beside the repo."""
    env = os.environ.get("IODVIDEO_ANNOTATIONS")
    if env:
        return Path(env) / REAL_PICKLE
    repo = Path(__file__).resolve().parents[4]
    return repo.parent / "shared" / "data" / "iodvideo-annotations" / REAL_PICKLE


def plan_real(config: SynthConfig) -> tuple[list[VideoPlan], list[list[str]], list[list[str]]]:
    """Video plans with target boxes, and the real train/test lists restricted to them."""
    from iodvideo.data.annotations import load_annotations  # the safe loader

    path = Path(config.real_annotations) if config.real_annotations else default_real_annotations()
    if path.is_dir():
        path = path / REAL_PICKLE
    if not path.is_file():
        raise ConfigError(
            f"trajectories=real needs the real annotation pickle, not found at {path}; "
            "set real_annotations=PATH"
        )
    real = load_annotations(path)
    names = sorted(real.nframes, key=_video_id)[: config.num_videos]
    plans = []
    for name in names:
        stem = name.split("/", 1)[1]
        index_str, rest = stem.split("_", 1)
        scene, motion, visibility = rest.rsplit("_", 2)
        rh, rw = real.resolution[name]
        tube = real.tube(name).astype(np.float64).copy()
        if (rh, rw) != (config.height, config.width):
            tube[:, 1::2] *= config.width / rw
            tube[:, 2::2] *= config.height / rh
            tube[:, 1:] = np.rint(tube[:, 1:])
        index = int(index_str)
        plans.append(VideoPlan(
            index=index, scene=scene, dynamic=motion == "dynamic", clear=visibility == "clear",
            nframes=int(real.nframes[name]), height=config.height, width=config.width,
            entropy=(config.seed, STREAM_VIDEO, index),
            target_boxes=tube.astype(np.float32),
        ))
    keep = set(names)
    train = [[v for v in s if v in keep] for s in real.train_videos[:NUM_SPLITS]]
    test = [[v for v in s if v in keep] for s in real.test_videos[:NUM_SPLITS]]
    for s, (tr, te) in enumerate(zip(train, test, strict=True), start=1):
        if not tr or not te:
            raise ConfigError(
                f"trajectories=real with num_videos={config.num_videos}: split {s} would have "
                f"{len(tr)} train / {len(te)} test videos; use more videos"
            )
    for plan, name in zip(plans, names, strict=True):
        if plan.name != name:  # the frames must land where the annotation says they are
            raise ConfigError(
                f"{path}: video key {name!r} does not follow {CLASS_NAME}/NNN_scene_motion_vis"
            )
    return plans, train, test


def _video_id(name: str) -> int:
    stem = name.rsplit("/", 1)[-1]
    head = stem.split("_", 1)[0]
    return int(head) if head.isdigit() else 10**9
