"""Frames for the browser: a :class:`~.hub.FrameView` drawn (boxes, score, track, ALARM) or
as its frame-difference panel, encoded as JPEG.

Drawing and encoding happen on the server's side, once per frame version that a viewer
actually asks for, so the detector pays nothing for the page when nobody watches.
"""

from __future__ import annotations

import cv2
import numpy as np

from iodvideo.inference.serve.hub import FrameView
from iodvideo.inference.stream.render import difference_panel, draw_detections

VIEWS = ("annotated", "diff")


def annotated(view: FrameView) -> np.ndarray:
    return draw_detections(view.image, view.boxes, [float(s) for s in view.scores],
                           tracks=list(view.tracks), label=f"frame {view.frame}",
                           alarm=view.alarm)


def render(view: FrameView, kind: str = "annotated", diff_gain: float = 4.0) -> np.ndarray:
    """The BGR image of ``kind`` (one of :data:`VIEWS`) for ``view``."""
    if kind == "diff":
        return difference_panel(view.image, view.previous, diff_gain)
    if kind == "annotated":
        return annotated(view)
    raise ValueError(f"unknown view {kind!r}; one of {VIEWS}")


def encode_jpeg(image: np.ndarray, quality: int = 80, width: int | None = None) -> bytes:
    """JPEG bytes of a BGR image, shrunk to ``width`` pixels first when it is wider."""
    if width is not None and image.shape[1] > width:
        scale = width / image.shape[1]
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:  # pragma: no cover - OpenCV encodes any 8-bit BGR image
        raise RuntimeError("OpenCV could not encode a JPEG")
    return data.tobytes()


def thumbnail(view: FrameView, width: int = 200, quality: int = 75) -> bytes:
    """The annotated frame, at most ``width`` pixels wide (the event log's picture)."""
    return encode_jpeg(annotated(view), quality, width)
