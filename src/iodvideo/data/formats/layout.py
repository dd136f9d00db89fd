"""Shared by every annotation format: parsed boxes → IOD-Video tubes, validation, the pickle.

Each importer only parses its file into a :class:`Collected` (videos, labels and per-frame
boxes, each with the place in the file it came from). Everything that decides whether that is
a valid IOD-Video dataset lives here once, so every format applies the same rules and reports
problems the same way: all of them at once, each naming the file and the row or element.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from iodvideo.data.annotations import dump_annotation_pickle, load_annotations, problem_report
from iodvideo.data.formats.splits import (
    DEFAULT_SCENE_PATTERN,
    SplitLists,
    check_splits,
    kfold_splits,
    read_splits_file,
)
from iodvideo.errors import AnnotationError

MAX_SHOWN_PROBLEMS = 50
# IOD-Video's own boxes poke up to 15 px out of the 320x240 frames (protocol §1.2); a box
# further out than this is an annotation mistake, not a plume at the border.
DEFAULT_MAX_OUTSIDE = 16.0


class Problems:
    """Collects every problem of an import so that one error can list them all."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self, what: str) -> None:
        """Raise one :class:`AnnotationError` listing the problems (the first 50 of them:
        an import from a tool can go wrong on many rows at once, a pickle rarely does)."""
        if self.items:
            raise AnnotationError(problem_report(what, self.items, MAX_SHOWN_PROBLEMS))


@dataclass
class VideoInfo:
    """What a file says about one video; ``None`` means it did not say. ``last_image`` is the
    highest frame of the images a file lists (COCO), the length when none is given."""

    where: str
    nframes: int | None = None
    height: int | None = None
    width: int | None = None
    last_image: int | None = None

    def saw_image(self, frame: int) -> None:
        self.last_image = frame if self.last_image is None else max(self.last_image, frame)


@dataclass(frozen=True)
class BoxRecord:
    """One box on one 1-based frame; ``track`` groups boxes into tubes ("" = one per label)."""

    video: str
    label: str
    track: str
    frame: int
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels
    where: str


@dataclass
class Collected:
    """Everything an importer parsed, before validation."""

    source: str
    labels: list[str] = field(default_factory=list)
    videos: dict[str, VideoInfo] = field(default_factory=dict)
    boxes: list[BoxRecord] = field(default_factory=list)
    splits: SplitLists | None = None
    problems: Problems = field(default_factory=Problems)

    def add_label(self, name: str) -> None:
        if name not in self.labels:
            self.labels.append(name)

    def video(self, name: str, where: str) -> VideoInfo:
        return self.videos.setdefault(name, VideoInfo(where))

    def set_video_fact(self, name: str, key: str, value: int, where: str) -> None:
        """Record nframes/height/width of a video; a contradicting second value is a problem."""
        info = self.video(name, where)
        old = getattr(info, key)
        if old is not None and old != value:
            self.problems.add(where, f"video {name!r} {key} {value} contradicts {old} "
                                     f"given at {info.where}")
        else:
            setattr(info, key, value)


@dataclass(frozen=True)
class BuildOptions:
    """How the pickle is completed where the files are silent: splits and box tolerance."""

    splits_file: Path | None = None
    folds: int = 3
    seed: int = 0
    scene_pattern: str = DEFAULT_SCENE_PATTERN
    max_outside: float = DEFAULT_MAX_OUTSIDE
    default_resolution: tuple[int, int] | None = None  # (height, width)


@dataclass
class Built:
    """The pickle content plus what the user should know about it."""

    content: dict[str, Any]
    warnings: list[str]

    @property
    def num_tubes(self) -> int:
        return sum(len(t) for v in self.content["gttubes"].values() for t in v.values())


def parse_resolution(text: str) -> tuple[int, int]:
    """``"320x240"`` (width x height, as image tools print it) → ``(240, 320)`` (h, w)."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        width, height = (int(p) for p in parts)
    except ValueError:
        raise AnnotationError(f"resolution {text!r}: expected WIDTHxHEIGHT, e.g. 320x240") from None
    if width < 1 or height < 1:
        raise AnnotationError(f"resolution {text!r}: width and height must be positive")
    return height, width


def build_layout(data: Collected, options: BuildOptions) -> Built:
    """Validate ``data`` and turn it into the IOD-Video pickle dict; raise on any problem.

    A tube is a maximal run of consecutive frames of one (video, label, track): a track with a
    gap becomes one tube per run. Tubes may start late, end early and overlap other tubes of
    the video in time; frames with no box are frames without gas."""
    problems = data.problems
    videos = list(data.videos)
    # first: a split file may fix the label order, which the tubes' label indices follow
    splits = _splits(data, options, videos, problems)
    labels = _label_order(data.labels, splits)
    by_video: dict[str, list[BoxRecord]] = {}
    for record in data.boxes:
        by_video.setdefault(record.video, []).append(record)
    nframes: dict[str, int] = {}
    resolution: dict[str, tuple[int, int]] = {}
    from_boxes: list[str] = []
    for name, info in data.videos.items():
        frames = [r.frame for r in by_video.get(name, [])]
        count = info.nframes if info.nframes is not None else info.last_image
        if count is None:
            count = max(frames, default=0)
            if count >= 1:
                from_boxes.append(f"{name}: {count}")
        if count < 1:
            problems.add(info.where, f"video {name!r} has no frames and no boxes")
            continue
        nframes[name] = count
        hw = (info.height, info.width)
        if None in hw:
            hw = options.default_resolution
        if hw is None:
            problems.add(info.where, f"video {name!r} has no image size (give --resolution "
                                     "WxH or width/height in the file)")
            continue
        resolution[name] = (int(hw[0]), int(hw[1]))
    gttubes: dict[str, dict[int, list[np.ndarray]]] = {}
    for name in data.videos:
        if name not in nframes:
            continue
        records = by_video.get(name, [])
        if not records:
            problems.add(data.videos[name].where,
                         f"video {name!r} has no boxes (a video needs at least one tube)")
            continue
        tubes = _video_tubes(records, nframes[name], resolution.get(name), labels, problems,
                             options.max_outside)
        if tubes:
            gttubes[name] = tubes
    problems.raise_if_any(data.source)
    assert splits is not None
    warnings: list[str] = []  # printed by the CLI; the import still succeeds
    if from_boxes:
        warnings.append(
            f"{len(from_boxes)} video(s) have no length in the file (no nframes): each took "
            f"its last box's frame as nframes ({', '.join(from_boxes[:5])}"
            f"{', ...' if len(from_boxes) > 5 else ''}); if a video runs on past its last "
            "box, give its length (CSV: an nframes column): frames and video files are checked "
            "against nframes")
    content = {
        "labels": labels,
        "gttubes": gttubes,
        "nframes": nframes,
        "train_videos": splits.train,
        "test_videos": splits.test,
        "resolution": resolution,
    }
    return Built(content, warnings)


def _splits(
    data: Collected, options: BuildOptions, videos: list[str], problems: Problems
) -> SplitLists | None:
    if options.splits_file is not None:
        try:
            splits = read_splits_file(options.splits_file, videos)
        except AnnotationError as err:
            problems.add(str(options.splits_file), str(err))
            return None
        where = str(options.splits_file)
    elif data.splits is not None:
        splits, where = data.splits, f"{data.source} (splits)"
    else:
        try:
            return kfold_splits(videos, options.folds, options.seed, options.scene_pattern)
        except AnnotationError as err:
            problems.add("splits", str(err))
            return None
    # load_annotations re-checks the written pickle's splits, but its errors would name the
    # temporary pickle; these name the split file the user must fix, and also catch a video
    # listed twice and a split without test videos, which the pickle loader allows.
    before = len(problems.items)
    check_splits(splits, set(videos), problems.add, where)
    return splits if len(problems.items) == before else None


def _label_order(found: list[str], splits: SplitLists | None) -> list[str]:
    """The labels of a split file's ``labels`` (written by the CSV export, so that label
    indices and labels without boxes survive the round trip), then any others as found."""
    listed = list(splits.labels) if splits is not None and splits.labels else []
    return listed + [label for label in found if label not in listed]


def _video_tubes(
    records: list[BoxRecord],
    nframes: int,
    hw: tuple[int, int] | None,
    labels: list[str],
    problems: Problems,
    max_outside: float,
) -> dict[int, list[np.ndarray]]:
    tracks: dict[tuple[str, str], dict[int, BoxRecord]] = {}
    ok = True
    for r in records:
        if not _box_ok(r, nframes, hw, max_outside, problems):
            ok = False
            continue
        frames = tracks.setdefault((r.label, r.track), {})
        if r.frame in frames:
            track = f"track {r.track!r}" if r.track else f"label {r.label!r} (no track ids)"
            problems.add(r.where, f"{track} already has a box on frame {r.frame} "
                                  f"(at {frames[r.frame].where})")
            ok = False
            continue
        frames[r.frame] = r
    out: dict[int, list[np.ndarray]] = {}
    for (label, _track), frames in tracks.items():
        ordered = sorted(frames)
        runs = np.split(np.asarray(ordered), np.flatnonzero(np.diff(ordered) != 1) + 1)
        for run in runs:
            rows = [(float(f), *frames[int(f)].box) for f in run]
            out.setdefault(labels.index(label), []).append(
                np.asarray(rows, dtype=np.float32).reshape(-1, 5))
    return out if ok else {}


def _box_ok(
    r: BoxRecord, nframes: int, hw: tuple[int, int] | None, max_outside: float,
    problems: Problems,
) -> bool:
    x1, y1, x2, y2 = r.box
    reasons = []
    if not 1 <= r.frame <= nframes:
        reasons.append(f"frame {r.frame} is outside the video's frames 1-{nframes}")
    if not all(math.isfinite(v) for v in r.box):
        reasons.append(f"box {list(r.box)} is not finite")
    elif x2 <= x1 or y2 <= y1:
        reasons.append(f"box x1,y1,x2,y2={_fmt(r.box)} has x2<=x1 or y2<=y1")
    elif hw is not None:
        h, w = hw
        m = max_outside
        if x1 < -m or y1 < -m or x2 > w - 1 + m or y2 > h - 1 + m:
            reasons.append(f"box x1,y1,x2,y2={_fmt(r.box)} lies more than {m:g} px outside "
                           f"the {w}x{h} image")
    for reason in reasons:
        problems.add(r.where, reason)
    return not reasons


def _fmt(box: tuple[float, ...]) -> str:
    return ",".join(f"{v:g}" for v in box)


def write_pickle(content: dict[str, Any], out: Path) -> None:
    """Write ``content`` to ``out`` atomically, after checking that ``load_annotations``
    accepts it (a temporary file is validated, then renamed; nothing is left on failure)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    try:
        dump_annotation_pickle(content, tmp)
        load_annotations(tmp)
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(text: str, out: Path) -> None:
    """Exports (JSON, CSV) are written to a temporary name and renamed, like the pickle."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
