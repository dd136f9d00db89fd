"""Generate a whole SynthIOD dataset atomically: plan, render every video, write pickles.

Everything is written into a hidden temporary directory next to ``root`` and renamed into
place only when complete, so a run killed half-way never leaves a dataset whose pickle
exists but whose frames do not (the datamodule regenerates when the pickle is absent).
``<root>/synth.json`` records the generator version and the config that made the set, so a
caller can tell a stale set (``read_manifest``).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from iodvideo.data.synth.config import SynthConfig
from iodvideo.data.synth.layout import (
    VideoPlan,
    build_annotations,
    partition_splits,
    plan_synthetic,
    write_annotations,
)
from iodvideo.data.synth.render import render_video
from iodvideo.data.synth.writer import VideoSink
from iodvideo.errors import IODVideoError

Progress = Callable[[int, int], None]
# bumped whenever the same config renders different pixels or boxes (2: issue 30's realism;
# 3: wide, flat band plumes with IOD-Video's aspect tail, swaying warm stems)
GENERATOR_VERSION = 3
MANIFEST = "synth.json"


class SynthRootExistsError(IODVideoError):
    """The target directory already holds something and ``overwrite`` was not given."""


@dataclass(frozen=True)
class DatasetPlan:
    videos: list[VideoPlan]
    train: list[list[str]]
    test: list[list[str]]


def plan_dataset(config: SynthConfig) -> DatasetPlan:
    """Videos and splits of the dataset ``config`` describes (no pixels yet)."""
    if config.trajectories == "real":
        from iodvideo.data.synth.real import plan_real

        videos, train, test = plan_real(config)
        return DatasetPlan(videos, train, test)
    videos = plan_synthetic(config)
    train, test = partition_splits(videos, config.seed)
    return DatasetPlan(videos, train, test)


def plan_videos(config: SynthConfig) -> list[VideoPlan]:
    """The videos ``generate_synthiod`` will write, in order (name, ``nframes``, ...)."""
    return plan_dataset(config).videos


def generate_synthiod(
    root: str | Path,
    config: SynthConfig | None = None,
    progress: Progress | None = None,
    overwrite: bool = False,
) -> Path:
    """Write SynthIOD for ``config`` into ``root``; return the path of the main pickle.

    Raises :class:`SynthRootExistsError` if ``root`` is non-empty and ``overwrite`` is false.
    ``progress(done, total)`` is called after each video.
    """
    config = config if config is not None else SynthConfig()
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise SynthRootExistsError(f"{root}: exists and is not a directory")
    if root.is_dir() and any(root.iterdir()) and not overwrite:
        raise SynthRootExistsError(
            f"{root}: directory is not empty; choose another root or pass overwrite=true"
        )
    plan = plan_dataset(config)
    if config.backgrounds:  # unreadable footage: one line now, not half-way through
        from iodvideo.data.synth.footage import check_backgrounds

        check_backgrounds(config)
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.partial-", dir=root.parent))
    try:
        tubes = {}
        total = len(plan.videos)
        for done, video in enumerate(plan.videos, start=1):
            sink = VideoSink(staging, video.name, config.image_ext, config.video_format,
                             config.fps, (video.height, video.width))
            try:
                tubes[video.name] = render_video(video, config, sink)
            finally:
                sink.close()
            if progress is not None:
                progress(done, total)
        annotations = build_annotations(plan.videos, tubes, plan.train, plan.test)
        main = write_annotations(staging, annotations)
        manifest = {"generator": GENERATOR_VERSION, "config": asdict(config)}
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n")
        _swap_into_place(staging, root)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return root / main.name


def read_manifest(root: str | Path) -> dict | None:
    """``{"generator": version, "config": {...}}`` of the set in ``root``; None for a set
    written before manifests existed (generator version 1) or no set at all."""
    path = Path(root) / MANIFEST
    if not path.is_file():
        return None
    return json.loads(path.read_text())


def _swap_into_place(staging: Path, root: Path) -> None:
    """Replace ``root`` by ``staging`` with two renames (old content removed afterwards)."""
    staging.chmod(0o755)  # mkdtemp makes it private; the dataset should not be
    old = None
    if root.exists():
        if any(root.iterdir()):
            old = staging.with_name(staging.name + ".old")
            root.rename(old)
        else:
            root.rmdir()
    staging.rename(root)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
