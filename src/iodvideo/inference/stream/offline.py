"""Offline prediction of one video: clips → tubelets → per-frame detections and linked tubes.

:class:`FrameMerger` merges clips per frame with the evaluator's own function
(:func:`iodvideo.detections.merge.clips_to_frame_detections`, protocol §9.1), frame by frame as
soon as no later clip can cover a frame, so memory stays bounded on long videos. The
reference's per-frame rescoring (§9.1 step 2) orders each frame's boxes; the top ones are
what a user sees. Tubes are linked from the per-clip top-10 after tubelet NMS (§9.3), which
is exactly what ``build_tubes`` keeps of each clip.

A detector of several classes is handled class by class, as the evaluator does: each class's
tubelets are merged, rescored and linked on their own (a frame shows up to ``keep_per_frame``
boxes of every class), and every shown box and tube carries its class index.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from iodvideo.detections.iou import iou_plus1
from iodvideo.detections.linking import Tube, build_tubes, tubelet_nms
from iodvideo.detections.merge import clips_to_frame_detections
from iodvideo.detections.rescore import rescore_detections
from iodvideo.inference.stream.runner import ClipRunner, clip_starts, iter_clip_batches
from iodvideo.inference.stream.sources import FrameSource


@dataclass
class LinkConfig:
    """§9.3 linking parameters (the reference's values by default)."""

    enabled: bool = True
    link_iou: float = 0.5
    nms_iou: float = 0.6
    top_k: int = 10
    min_length: int = 15
    min_score: float = 0.005
    assign_iou: float = 0.5  # a frame's box takes the id of the tube overlapping it this much


class FrameMerger:
    """Collects clip tubelets and releases merged, rescored per-frame detections in order."""

    def __init__(self, clip_len: int, num_frames: int, keep_per_frame: int = 1,
                 score_threshold: float = 0.0, keep_all: bool = False,
                 rescore: bool = True) -> None:
        self.clip_len = clip_len
        self.num_frames = num_frames
        self.keep_per_frame = keep_per_frame
        self.score_threshold = score_threshold
        self.keep_all = keep_all
        self.rescore = rescore
        self._clips: dict[int, np.ndarray] = {}
        self._done = 0  # frames 1.._done are released
        self.top: list[np.ndarray] = []  # per released chunk: (n, 6) shown detections
        self.all_rows: list[np.ndarray] = []  # raw merged rows (evaluator format), if keep_all

    def add(self, start: int, tubelets: np.ndarray) -> None:
        self._clips[start] = tubelets

    def release(self, upto: int) -> None:
        """Merge frames ``_done+1 .. upto``: no clip still to come covers them."""
        upto = min(upto, self.num_frames)
        if upto <= self._done:
            return
        rows = clips_to_frame_detections(self._clips, self.clip_len)
        rows = rows[(rows[:, 0] > self._done) & (rows[:, 0] <= upto)]
        if self.keep_all:
            self.all_rows.append(rows)
        scored = rescore_detections(rows) if self.rescore and len(rows) else rows
        self.top.append(self._top_per_frame(scored))
        self._done = upto
        for start in [s for s in self._clips if s + self.clip_len - 1 <= upto]:
            del self._clips[start]

    def _top_per_frame(self, rows: np.ndarray) -> np.ndarray:
        if not len(rows):
            return np.empty((0, 6))
        # by frame, then score descending (stable: ties keep the evaluator's row order)
        order = np.lexsort((-rows[:, 5], rows[:, 0]))
        rows = rows[order]
        rank = np.arange(len(rows)) - np.searchsorted(rows[:, 0], rows[:, 0], side="left")
        keep = (rank < self.keep_per_frame) & (rows[:, 5] >= self.score_threshold)
        return rows[keep]

    def shown(self) -> np.ndarray:
        return np.concatenate(self.top) if self.top else np.empty((0, 6))

    def merged(self) -> np.ndarray:
        return np.concatenate(self.all_rows) if self.all_rows else np.empty((0, 6))


@dataclass
class VideoPrediction:
    """What :func:`predict_video` found in one video."""

    name: str
    num_frames: int
    image_hw: tuple[int, int]
    fps: float
    shown: np.ndarray  # (n, 6) frame, x1, y1, x2, y2, score: the top boxes per frame
    track_ids: np.ndarray  # (n,) int, 0 = no tube
    tubes: list[Tube] = field(default_factory=list)
    merged: np.ndarray | None = None  # all merged rows (evaluator input), when kept
    padded: bool = False  # shorter than K: clips padded by edge replication
    seconds: float = 0.0
    shown_labels: np.ndarray | None = None  # (n,) class of each shown row (None: all 0)
    tube_labels: list[int] = field(default_factory=list)  # class of each tube
    merged_labels: np.ndarray | None = None  # class of each merged row, when kept
    class_names: list[str] = field(default_factory=list)

    def labels_of_shown(self) -> np.ndarray:
        return (self.shown_labels if self.shown_labels is not None
                else np.zeros(len(self.shown), dtype=np.int64))

    def merged_of(self, label: int) -> np.ndarray:
        """The merged rows of class ``label`` (all of them for a single-class model)."""
        assert self.merged is not None
        if self.merged_labels is None:
            return self.merged
        return self.merged[self.merged_labels == label]


def assign_tracks(rows: np.ndarray, tubes: list[Tube], min_iou: float) -> np.ndarray:
    """Id (1-based, tubes in the given order) of the tube that best overlaps each row's box
    on its frame, 0 when none reaches ``min_iou``."""
    ids = np.zeros(len(rows), dtype=np.int64)
    best = np.full(len(rows), -np.inf)
    for number, tube in enumerate(tubes, start=1):
        frames = tube.boxes[:, 0].astype(np.int64)
        lookup = {int(f): i for i, f in enumerate(frames)}
        for r, row in enumerate(rows):
            i = lookup.get(int(row[0]))
            if i is None:
                continue
            iou = float(iou_plus1(row[1:5], tube.boxes[i, 1:5])[0])
            if iou >= min_iou and iou > best[r]:
                ids[r], best[r] = number, iou
    return ids


def predict_video(
    runner: ClipRunner, source: FrameSource, stride: int = 1, batch_size: int = 8,
    keep_per_frame: int = 1, score_threshold: float = 0.0, keep_all: bool = False,
    link: LinkConfig | None = None, progress: Callable[[int], None] | None = None,
) -> VideoPrediction:
    """Run every clip of ``source`` (stride ``stride``), merge per frame, link tubes.

    ``progress(frames_done)`` is called as frames are released.
    """
    import time

    link = link or LinkConfig()
    num_frames = source.num_frames
    if num_frames is None:
        raise ValueError(f"{source.describe()}: offline prediction needs a source of known "
                         "length (use the monitor for live streams)")
    clip_len, classes = runner.clip_len, runner.num_classes
    mergers = [FrameMerger(clip_len, num_frames, keep_per_frame, score_threshold, keep_all)
               for _ in range(classes)]
    linked: list[dict[int, np.ndarray]] = [{} for _ in range(classes)]
    starts = clip_starts(num_frames, clip_len, stride)
    began = time.perf_counter()
    image_hw = (0, 0)
    for batch_starts, clips, image_hw in iter_clip_batches(
        source, num_frames, runner.preprocess, clip_len, runner.context, stride, batch_size
    ):
        tubelets, labels = runner.labelled(clips, image_hw)
        for start, tub, lab in zip(batch_starts, tubelets, labels, strict=True):
            for c in range(classes):
                mine = tub if classes == 1 else tub[lab == c]
                mergers[c].add(start, mine)
                if link.enabled:
                    linked[c][start] = tubelet_nms(mine, clip_len, link.nms_iou, link.top_k)
        later = [s for s in starts if s > batch_starts[-1]]
        for merger in mergers:
            merger.release(later[0] - 1 if later else num_frames)
        if progress:
            progress(min(later[0] - 1, num_frames) if later else num_frames)
    labelled_tubes = [(t, c) for c in range(classes)
                      for t in _link(linked[c], clip_len, num_frames, link)]
    labelled_tubes.sort(key=lambda tc: (-tc[0].score, tc[0].boxes[0, 0], tc[1]))
    tubes = [t for t, _ in labelled_tubes]
    tube_labels = [c for _, c in labelled_tubes]
    shown_parts = [m.shown() for m in mergers]
    shown_labels = np.concatenate([np.full(len(p), c, dtype=np.int64)
                                   for c, p in enumerate(shown_parts)])
    shown = np.concatenate(shown_parts)
    order = np.lexsort((-shown[:, 5], shown[:, 0])) if classes > 1 else np.arange(len(shown))
    shown, shown_labels = shown[order], shown_labels[order]
    track_ids = np.zeros(len(shown), dtype=np.int64)
    for c in range(classes):  # a box takes the id of a tube of its own class
        numbers = [n for n, label in enumerate(tube_labels, start=1) if label == c]
        ids = assign_tracks(shown[shown_labels == c], [tubes[n - 1] for n in numbers],
                            link.assign_iou)
        track_ids[shown_labels == c] = [numbers[i - 1] if i else 0 for i in ids]
    merged = merged_labels = None
    if keep_all:
        parts = [m.merged() for m in mergers]
        merged = np.concatenate(parts)
        merged_labels = np.concatenate([np.full(len(p), c, dtype=np.int64)
                                        for c, p in enumerate(parts)]) if classes > 1 else None
    return VideoPrediction(
        name=source.name, num_frames=num_frames, image_hw=image_hw, fps=source.fps,
        shown=shown, track_ids=track_ids, tubes=tubes, merged=merged,
        padded=num_frames < clip_len, seconds=time.perf_counter() - began,
        shown_labels=shown_labels if classes > 1 else None, tube_labels=tube_labels,
        merged_labels=merged_labels, class_names=runner.class_names,
    )


def _link(linked: dict[int, np.ndarray], clip_len: int, num_frames: int,
          link: LinkConfig) -> list[Tube]:
    """§9.3 tubes of one class's per-clip tubelets, cut to the video's frames."""
    if not link.enabled or not linked:
        return []
    tubes = build_tubes(linked, clip_len, link.link_iou, link.nms_iou, link.top_k,
                        link.min_length, link.min_score)
    tubes = [Tube(t.boxes[t.boxes[:, 0] <= num_frames], t.score) for t in tubes]
    return [t for t in tubes if len(t.boxes)]
