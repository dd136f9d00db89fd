"""IOD-Video annotation pickles: safe loading, validation, splits and visibility subsets.

The pickles are untrusted input, so they are read with an unpickler that only rebuilds plain
containers and numpy arrays (protocol §1.2 describes the schema). Every problem found
is reported in one error, each line naming the video, so a broken file is fixed in one pass.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from iodvideo.errors import AnnotationError, DatasetNotFoundError
from iodvideo.safe_pickle import restricted_loads

_REQUIRED_KEYS = ("labels", "nframes", "resolution", "train_videos", "test_videos", "gttubes")
_MAX_LISTED_PROBLEMS = 20
# Protocol 4 pickles arrays through numpy's _reconstruct, which the restricted unpickler allows
# (protocol 5 would use _frombuffer, protocols < 3 pickle bytes through _codecs.encode; both
# would trip it). Every annotation pickle iodvideo writes goes through dump_annotation_pickle.
PICKLE_PROTOCOL = 4

Subset = Literal["train", "test"]
Visibility = Literal["clear", "vague"]


def safe_load_pickle(path: Path) -> Any:
    """Unpickle ``path`` allowing only builtin containers, scalars and numpy arrays."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise DatasetNotFoundError(f"{path}: cannot read annotation file ({err})") from None
    try:
        return restricted_loads(data)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise AnnotationError(f"{path}: not a safe IOD-Video annotation pickle ({err})") from None


def dump_annotation_pickle(content: object, path: Path) -> None:
    """Write ``content`` (plain containers and numpy arrays) so that
    :func:`safe_load_pickle` can read it back: the one place that picks the protocol."""
    path.write_bytes(pickle.dumps(content, protocol=PICKLE_PROTOCOL))


def problem_report(where: str, problems: list[str], limit: int = _MAX_LISTED_PROBLEMS) -> str:
    """``where: N problem(s):`` and the first ``limit`` problems, one per indented line, so
    that the pickle loader and the importers report a list of problems alike."""
    shown = problems[:limit]
    more = len(problems) - len(shown)
    tail = f"\n  ... and {more} more" if more else ""
    return f"{where}: {len(problems)} problem(s):\n  " + "\n  ".join(shown) + tail


@dataclass(frozen=True)
class Annotations:
    """One annotation pickle, validated. Tubes are float32 ``(n, 5)``: frame, x1, y1, x2, y2,
    one row per frame the object is on (frames increasing, within 1..nframes). IOD-Video has one
    tube per video covering every frame; other data may have tubes that cover part of a video,
    several tubes per video (overlapping in time or not), and frames with no box at all.

    ``videos()`` selects split members and the clear/vague subsets by name suffix in memory
    (the reference swaps pickle files on disk instead, protocol §11.17).
    """

    path: Path
    labels: list[str]
    nframes: dict[str, int]
    resolution: dict[str, tuple[int, int]]
    train_videos: list[list[str]]
    test_videos: list[list[str]]
    gttubes: dict[str, dict[int, list[np.ndarray]]]

    @property
    def num_splits(self) -> int:
        return len(self.test_videos)

    def videos(
        self, split: int, subset: Subset, visibility: Visibility | None = None
    ) -> list[str]:
        """Video keys of ``subset`` in 1-based ``split``, in the pickle's order (which the
        evaluator uses as video index), optionally only the ``_clear`` or ``_vague`` ones."""
        if not 1 <= split <= self.num_splits:
            raise AnnotationError(
                f"{self.path}: split {split} does not exist (splits 1..{self.num_splits})"
            )
        if subset not in ("train", "test"):
            raise ValueError(f"subset must be 'train' or 'test', got {subset!r}")
        lists = self.train_videos if subset == "train" else self.test_videos
        chosen = list(lists[split - 1])
        if visibility is not None:
            if visibility not in ("clear", "vague"):
                raise ValueError(f"visibility must be 'clear' or 'vague', got {visibility!r}")
            chosen = [v for v in chosen if v.endswith(f"_{visibility}")]
        return chosen

    @property
    def num_classes(self) -> int:
        """Classes the detector tells apart: one heatmap channel per entry of ``labels``."""
        return len(self.labels)

    def tubes(self, video: str, label: int | None = None) -> list[np.ndarray]:
        """All tubes of ``video`` over all labels, label by label in the pickle's order
        (``label``: only that class's tubes, possibly none)."""
        return [tube for lab, tubes in self.gttubes[video].items()
                if label is None or lab == label for tube in tubes]

    def tube_labels(self, video: str) -> list[int]:
        """The class index of every tube of :meth:`tubes` (``video``), in the same order."""
        return [lab for lab, tubes in self.gttubes[video].items() for _ in tubes]

    def frame_boxes(self, video: str, label: int | None = None) -> np.ndarray:
        """Every GT box of ``video`` (``label``: of that class only): the rows of its tubes,
        ``(n, 5)`` float32 ordered by frame (rows of one frame in tube order). A frame may have
        several rows or none. This is the ground truth of frameAP (protocol §9.2, one class at
        a time); with one tube it is that tube."""
        tubes = self.tubes(video, label)
        if len(tubes) == 1:
            return tubes[0]
        if not tubes:
            return np.zeros((0, 5), dtype=np.float32)
        rows = np.concatenate(tubes)
        return rows[np.argsort(rows[:, 0], kind="stable")]

    def tube(self, video: str) -> np.ndarray:
        """The single tube of ``video``, for pickles with one tube per video (IOD-Video,
        SynthIOD); an error otherwise. Library code uses :meth:`tubes` / :meth:`frame_boxes`."""
        tubes = self.tubes(video)
        if len(tubes) != 1:
            raise AnnotationError(f"{self.path}: video {video} has {len(tubes)} tubes, expected 1")
        return tubes[0]

    def image_hw(self, video: str) -> tuple[int, int]:
        return self.resolution[video]


def load_annotations(path: str | Path) -> Annotations:
    """Load and validate an annotation pickle; raise one error listing every problem."""
    path = Path(path)
    if not path.is_file():
        raise DatasetNotFoundError(f"{path}: annotation pickle not found")
    raw = safe_load_pickle(path)
    if not isinstance(raw, dict):
        raise AnnotationError(f"{path}: expected a dict at top level, got {type(raw).__name__}")
    missing = [key for key in _REQUIRED_KEYS if key not in raw]
    if missing:
        raise AnnotationError(f"{path}: missing keys {missing} (needs {list(_REQUIRED_KEYS)})")
    problems: list[str] = []
    annotations = _parse(path, raw, problems)
    if problems:
        raise AnnotationError(problem_report(str(path), problems))
    assert annotations is not None
    return annotations


def _parse(path: Path, raw: dict, problems: list[str]) -> Annotations | None:
    labels = raw["labels"]
    if not (isinstance(labels, list) and labels and all(isinstance(x, str) for x in labels)):
        problems.append("labels: expected a non-empty list of class names")
        labels = []
    nframes = _as_dict(raw["nframes"], "nframes", problems)
    resolution = _as_dict(raw["resolution"], "resolution", problems)
    gttubes = _as_dict(raw["gttubes"], "gttubes", problems)
    train = _split_lists(raw["train_videos"], "train_videos", problems)
    test = _split_lists(raw["test_videos"], "test_videos", problems)
    if len(train) != len(test):
        problems.append(f"train_videos has {len(train)} splits but test_videos {len(test)}")

    clean_nframes: dict[str, int] = {}
    clean_resolution: dict[str, tuple[int, int]] = {}
    clean_tubes: dict[str, dict[int, list[np.ndarray]]] = {}
    for video in nframes:
        count = nframes[video]
        if not isinstance(count, (int, np.integer)) or count < 1:
            problems.append(f"{video}: nframes must be a positive integer, got {count!r}")
            continue
        clean_nframes[video] = int(count)
        hw = resolution.get(video)
        if not (isinstance(hw, (tuple, list)) and len(hw) == 2 and all(
            isinstance(v, (int, np.integer)) and v > 0 for v in hw
        )):
            problems.append(f"{video}: resolution must be (height, width), got {hw!r}")
        else:
            clean_resolution[video] = (int(hw[0]), int(hw[1]))
        if video not in gttubes:
            problems.append(f"{video}: no entry in gttubes")
            continue
        tubes = _check_tubes(video, gttubes[video], int(count), len(labels), problems)
        if tubes is not None:
            clean_tubes[video] = tubes
    for video in gttubes:
        if video not in nframes:
            problems.append(f"{video}: in gttubes but not in nframes")
    for name, lists in (("train_videos", train), ("test_videos", test)):
        for s, members in enumerate(lists, start=1):
            unknown = [v for v in members if v not in nframes]
            if unknown:
                problems.append(f"{name} split {s}: unknown videos {unknown[:5]}")
    for s, (tr, te) in enumerate(zip(train, test, strict=False), start=1):
        overlap = sorted(set(tr) & set(te))
        if overlap:
            problems.append(f"split {s}: videos in both train and test {overlap[:5]}")
    if problems:
        return None
    return Annotations(path, labels, clean_nframes, clean_resolution, train, test, clean_tubes)


def _as_dict(value: Any, key: str, problems: list[str]) -> dict:
    if isinstance(value, dict):
        return value
    problems.append(f"{key}: expected a dict per video, got {type(value).__name__}")
    return {}


def _split_lists(value: Any, key: str, problems: list[str]) -> list[list[str]]:
    if isinstance(value, (list, tuple)) and value and all(
        isinstance(s, (list, tuple)) and all(isinstance(v, str) for v in s) for s in value
    ):
        return [list(s) for s in value]
    problems.append(f"{key}: expected one list of video names per split")
    return []


def _check_tubes(
    video: str, entry: Any, nframes: int, num_labels: int, problems: list[str]
) -> dict[int, list[np.ndarray]] | None:
    """Every label maps to a non-empty list of valid tubes (:func:`_tube_problem`)."""
    if not isinstance(entry, dict) or not entry:
        problems.append(f"{video}: gttubes entry must be a non-empty dict label -> tubes")
        return None
    out: dict[int, list[np.ndarray]] = {}
    ok = True
    for label, tubes in entry.items():
        if not isinstance(label, (int, np.integer)) or not 0 <= label < max(num_labels, 1):
            problems.append(f"{video}: label {label!r} is not an index into labels")
            ok = False
            continue
        if not isinstance(tubes, list) or not tubes:
            problems.append(f"{video}: label {label} must map to a non-empty list of tubes")
            ok = False
            continue
        checked = []
        for t, tube in enumerate(tubes):
            reason = _tube_problem(tube, nframes)
            if reason:
                problems.append(f"{video}: tube {t} {reason}")
                ok = False
            else:
                checked.append(np.ascontiguousarray(tube, dtype=np.float32))
        out[int(label)] = checked
    return out if ok else None


def _tube_problem(tube: Any, nframes: int) -> str | None:
    """A tube needs rows ``frame, x1, y1, x2, y2`` with integer frames, strictly increasing
    (each frame once) and within 1..nframes, and finite boxes of positive size. It need not
    cover the whole video, nor consecutive frames; tubes of one video may overlap in time."""
    if not isinstance(tube, np.ndarray) or tube.ndim != 2 or tube.shape[1] != 5 or not len(tube):
        shape = getattr(tube, "shape", type(tube).__name__)
        return f"must be an (n, 5) array with n >= 1, got {shape}"
    if not np.isfinite(tube).all():
        return "has non-finite values"
    frames = tube[:, 0]
    if not np.array_equal(frames, np.round(frames)):
        return "has non-integer frame numbers"
    if frames.min() < 1 or frames.max() > nframes:
        return (f"has frames outside 1..{nframes} "
                f"({frames[(frames < 1) | (frames > nframes)][:5].astype(int).tolist()})")
    if not (np.diff(frames) > 0).all():
        return "must list its frames in increasing order, each frame once"
    w, h = tube[:, 3] - tube[:, 1], tube[:, 4] - tube[:, 2]
    bad = np.flatnonzero((w <= 0) | (h <= 0))
    if bad.size:
        return f"has boxes of non-positive size at frames {frames[bad[:5]].astype(int).tolist()}"
    return None
