"""Annotated previews: boxes with score (and track id) on each frame, an optional
frame-difference side panel (what a gas plume changes between frames is often easier to see
there than in the raw IR image), written as ``.mp4`` (OpenCV ``mp4v``) and ``.gif`` (Pillow).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from iodvideo.errors import ConfigError

_PALETTE = [  # BGR, distinct on grey IR images
    (0, 0, 255), (0, 200, 255), (255, 128, 0), (255, 0, 255), (0, 255, 0), (255, 255, 0),
    (128, 0, 255), (0, 128, 255),
]
UNTRACKED = (0, 0, 255)


def track_colour(track: int) -> tuple[int, int, int]:
    return UNTRACKED if track < 1 else _PALETTE[(track - 1) % len(_PALETTE)]


def draw_detections(
    frame: np.ndarray, boxes: np.ndarray, scores: Sequence[float],
    tracks: Sequence[int] | None = None, label: str | None = None,
    alarm: bool = False, names: Sequence[str] | None = None,
) -> np.ndarray:
    """A copy of BGR ``frame`` with ``boxes (n, 4)`` x1,y1,x2,y2 drawn and labelled with
    score, track and (``names``, one per box, for a model of several classes) class."""
    out = frame.copy()
    height, width = out.shape[:2]
    thick = max(1, round(min(height, width) / 240))
    font = 0.35 * max(1.0, min(height, width) / 240)
    for i, (box, score) in enumerate(zip(np.asarray(boxes).reshape(-1, 4), scores,
                                         strict=True)):
        track = int(tracks[i]) if tracks is not None else 0
        colour = track_colour(track)
        x1, y1, x2, y2 = (int(round(v)) for v in box)
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, thick)
        text = (f"{names[i]} " if names is not None else "") + f"{score:.2f}" + (
            f" #{track}" if track > 0 else "")
        cv2.putText(out, text, (x1, max(10, y1 - 3)), cv2.FONT_HERSHEY_SIMPLEX, font, colour,
                    thick, cv2.LINE_AA)
    if label:
        cv2.putText(out, label, (4, height - 6), cv2.FONT_HERSHEY_SIMPLEX, font,
                    (255, 255, 255), thick, cv2.LINE_AA)
    if alarm:
        cv2.rectangle(out, (0, 0), (width - 1, height - 1), (0, 0, 255), 2 * thick + 1)
        cv2.putText(out, "ALARM", (4, 14 + 4 * thick), cv2.FONT_HERSHEY_SIMPLEX, 2 * font,
                    (0, 0, 255), thick + 1, cv2.LINE_AA)
    return out


def difference_panel(frame: np.ndarray, previous: np.ndarray | None, gain: float = 4.0
                     ) -> np.ndarray:
    """|frame − previous| (grey), amplified by ``gain``, as a colour-mapped BGR image."""
    if previous is None:
        diff = np.zeros(frame.shape[:2], dtype=np.uint8)
    else:
        grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.int16)
        prev = cv2.cvtColor(previous, cv2.COLOR_BGR2GRAY).astype(np.int16)
        diff = np.clip(np.abs(grey - prev) * gain, 0, 255).astype(np.uint8)
    return cv2.applyColorMap(diff, cv2.COLORMAP_INFERNO)


def check_render_options(gif_max_frames: object = 150, gif_width: object = 320,
                         diff_gain: object = 4.0, min_score: object = 0.0,
                         prefix: str = "render.") -> None:
    """Refuse, with one ConfigError line, preview options that cannot work: ``gif_max_frames``
    and ``gif_width`` are integers >= 0 (0 = no limit: every frame, the full width),
    ``diff_gain`` a number >= 0, ``min_score`` a number."""
    for name, value in (("gif_max_frames", gif_max_frames), ("gif_width", gif_width)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{prefix}{name} must be an integer >= 0 (0 = no limit), "
                              f"got {value!r}")
    for name, value, low in (("diff_gain", diff_gain, 0.0), ("min_score", min_score, None)):
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not np.isfinite(value) or (low is not None and value < low)):
            bound = f" >= {low:g}" if low is not None else ""
            raise ConfigError(f"{prefix}{name} must be a number{bound}, got {value!r}")


def gif_stride(num_frames: int, gif_max_frames: int) -> int:
    """Keep every n-th frame so that at most ``gif_max_frames`` remain (0: every frame)."""
    if gif_max_frames == 0:
        return 1
    return max(1, -(-num_frames // gif_max_frames))


class PreviewWriter:
    """Writes annotated frames to an ``.mp4`` and keeps every ``gif_every``-th one (shrunk to
    ``gif_width``; 0 = full width) for a ``.gif`` preview written on :meth:`close`, at most
    ``gif_max_frames`` of them (0 = no limit)."""

    def __init__(
        self, mp4_path: Path | None, gif_path: Path | None, fps: float,
        side_panel: bool = False, diff_gain: float = 4.0, gif_every: int = 1,
        gif_width: int = 320, gif_max_frames: int = 150,
    ) -> None:
        check_render_options(gif_max_frames, gif_width, diff_gain, prefix="")
        if not np.isfinite(fps) or fps <= 0:
            raise ConfigError(f"preview frame rate must be > 0, got {fps!r}")
        self.mp4_path, self.gif_path = mp4_path, gif_path
        self.fps = fps
        self.side_panel = side_panel
        self.diff_gain = diff_gain
        self.gif_every = max(1, gif_every)
        self.gif_width = gif_width
        self.gif_max_frames = gif_max_frames
        self._writer: cv2.VideoWriter | None = None
        self._previous: np.ndarray | None = None
        self._gif: list[np.ndarray] = []
        self._count = 0

    def _compose(self, raw: np.ndarray, annotated: np.ndarray) -> np.ndarray:
        if not self.side_panel:
            return annotated
        panel = difference_panel(raw, self._previous, self.diff_gain)
        return np.concatenate([annotated, panel], axis=1)

    def write(self, raw: np.ndarray, annotated: np.ndarray) -> None:
        image = self._compose(raw, annotated)
        self._previous = raw
        if self.mp4_path is not None:
            if self._writer is None:
                self.mp4_path.parent.mkdir(parents=True, exist_ok=True)
                height, width = image.shape[:2]
                self._writer = cv2.VideoWriter(
                    str(self.mp4_path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height)
                )
                if not self._writer.isOpened():
                    raise ConfigError(f"{self.mp4_path}: OpenCV cannot write mp4v video here")
            self._writer.write(image)
        if self.gif_path is not None and self._count % self.gif_every == 0 and (
            self.gif_max_frames == 0 or len(self._gif) < self.gif_max_frames
        ):
            scale = min(1.0, self.gif_width / image.shape[1]) if self.gif_width else 1.0
            small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            self._gif.append(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
        self._count += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self.gif_path is not None and self._gif:
            from PIL import Image

            images = [Image.fromarray(f) for f in self._gif]
            self.gif_path.parent.mkdir(parents=True, exist_ok=True)
            duration = int(round(1000 * self.gif_every / max(self.fps, 1e-3)))
            images[0].save(self.gif_path, save_all=True, append_images=images[1:],
                           duration=max(duration, 20), loop=0, optimize=False)
            self._gif = []
