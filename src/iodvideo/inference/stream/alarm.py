"""Alarm state machine with hysteresis over per-frame detections of a stream.

Each frame's boxes (after decoding; a few per frame) are linked into online tracks by IoU.
A track is *pending* while its boxes score at least ``on_score``; once it has lasted
``on_frames`` frames (the configured duration × fps) it raises one **alarm** event. An alarmed
track is kept alive by any linked box scoring at least the lower ``off_score`` (hysteresis on
the score), and only after ``off_frames`` frames without one is it **cleared** (hysteresis in
time), so a plume flickering around the threshold raises one alarm, not one per flicker.
Short misses (``max_gap`` frames) do not break a pending track either.

Events are plain dicts, written as JSON lines by the monitor:
``{"event": "alarm", "track", "start_time", "start_frame", "frame", "time", "box",
"peak_score"}`` and ``{"event": "cleared", "track", "frame", "time", "start_time",
"duration", "peak_score", "reason"}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from iodvideo.detections.iou import iou_plus1
from iodvideo.errors import ConfigError


@dataclass
class AlarmConfig:
    on_score: float = 0.5  # a box this confident can start / grow a pending track
    off_score: float = 0.3  # an alarmed track survives on boxes this confident
    on_seconds: float = 1.0  # a track must persist this long before it alarms
    off_seconds: float = 1.0  # an alarmed track clears after this long without support
    max_gap_seconds: float = 0.2  # misses a pending track tolerates
    link_iou: float = 0.3  # a box continues a track if it overlaps its last box this much

    def __post_init__(self) -> None:
        if not 0 <= self.off_score <= self.on_score <= 1:
            raise ConfigError(f"alarm scores need 0 <= off_score ({self.off_score}) <= "
                              f"on_score ({self.on_score}) <= 1")
        for name in ("on_seconds", "off_seconds", "max_gap_seconds"):
            if getattr(self, name) < 0:
                raise ConfigError(f"alarm.{name} must be >= 0")

    def frames(self, fps: float) -> tuple[int, int, int]:
        """(on_frames, off_frames, max_gap) at ``fps``."""
        return (max(1, round(self.on_seconds * fps)), max(1, round(self.off_seconds * fps)),
                max(0, round(self.max_gap_seconds * fps)))


@dataclass
class _Track:
    number: int
    start_frame: int
    start_time: float
    box: np.ndarray
    last_frame: int
    last_time: float
    peak: float
    alarmed: bool = False
    misses: int = 0


class AlarmMonitor:
    """Feed :meth:`update` once per frame, in order; it returns the events of that frame."""

    def __init__(self, config: AlarmConfig, fps: float) -> None:
        self.config = config
        self.fps = fps
        self.on_frames, self.off_frames, self.max_gap = config.frames(fps)
        self.tracks: list[_Track] = []
        self._numbers = 0

    @property
    def alarm_active(self) -> bool:
        return any(t.alarmed for t in self.tracks)

    def update(self, frame: int, time: float, boxes: np.ndarray, scores: np.ndarray
               ) -> list[dict[str, Any]]:
        cfg = self.config
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        scores = np.asarray(scores, dtype=np.float64).reshape(-1)
        keep = scores >= cfg.off_score
        boxes, scores = boxes[keep], scores[keep]
        order = np.argsort(-scores, kind="stable")
        boxes, scores = boxes[order], scores[order]
        used = np.zeros(len(scores), dtype=bool)
        events: list[dict[str, Any]] = []
        # alarmed tracks first, then older ones: they claim their boxes before newcomers
        for track in sorted(self.tracks, key=lambda t: (not t.alarmed, t.start_frame)):
            need = cfg.off_score if track.alarmed else cfg.on_score
            candidates = np.flatnonzero(~used & (scores >= need))
            match = None
            if candidates.size:
                iou = iou_plus1(track.box, boxes[candidates])
                good = candidates[iou >= cfg.link_iou]
                match = int(good[0]) if good.size else None  # best score among overlaps
            if match is None:
                track.misses += 1
                continue
            used[match] = True
            track.box, track.misses = boxes[match], 0
            track.last_frame, track.last_time = frame, time
            track.peak = max(track.peak, float(scores[match]))
            if not track.alarmed and frame - track.start_frame + 1 >= self.on_frames:
                events.append(self._alarm(track, frame, time))
        survivors = []
        for track in self.tracks:
            if track.alarmed and track.misses >= self.off_frames:
                events.append(self._cleared(track, frame, time, "no detection"))
            elif not track.alarmed and track.misses > self.max_gap:
                continue  # a pending track that faded: no event
            else:
                survivors.append(track)
        self.tracks = survivors
        for i in np.flatnonzero(~used & (scores >= cfg.on_score)):
            self._numbers += 1
            track = _Track(self._numbers, frame, time, boxes[i], frame, time, float(scores[i]))
            self.tracks.append(track)
            if self.on_frames <= 1:  # a one-frame duration alarms at once
                events.append(self._alarm(track, frame, time))
        return events

    def _alarm(self, track: _Track, frame: int, time: float) -> dict[str, Any]:
        track.alarmed = True
        return {
            "event": "alarm", "track": track.number, "start_time": round(track.start_time, 4),
            "start_frame": track.start_frame, "frame": frame, "time": round(time, 4),
            "box": [round(float(v), 2) for v in track.box], "peak_score": round(track.peak, 6),
        }

    def _cleared(self, track: _Track, frame: int, time: float, reason: str) -> dict[str, Any]:
        return {
            "event": "cleared", "track": track.number, "frame": frame, "time": round(time, 4),
            "last_frame": track.last_frame, "start_frame": track.start_frame,
            "start_time": round(track.start_time, 4),
            "duration": round(track.last_time - track.start_time, 4),
            "peak_score": round(track.peak, 6), "reason": reason,
        }

    def close(self, frame: int, time: float) -> list[dict[str, Any]]:
        """End of stream: clear every active alarm."""
        events = [self._cleared(t, frame, time, "end of stream")
                  for t in self.tracks if t.alarmed]
        self.tracks = []
        return events
