"""Frame sources for prediction and monitoring: every one yields BGR uint8 ``(H, W, 3)`` frames.

* :class:`VideoFileSource`: a video file, decoded with decord in chunks (opened lazily in the
  process that reads it, never shared across a fork);
* :class:`ImageSequenceSource`: a folder of frame images or a glob of them, in natural order;
* :class:`CaptureSource`: an OpenCV capture (a camera index, an rtsp/http URL, or a file):
  a live stream that drops is reopened after a delay, each gap reported to ``on_gap``.

:func:`open_source` picks one from a string. All sources count frames from 1 and report a
frame rate (the container's, or ``fps`` when it has none) so frame numbers become times.
A video file that decodes to fewer frames than its container announces (a truncated ``.avi``)
is read as far as it goes, with a warning naming the file and both counts.
"""

from __future__ import annotations

import glob
import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from iodvideo.data.readers import container_frame_count, short_video_message
from iodvideo.errors import ConfigError, FrameReadError

log = logging.getLogger(__name__)

VIDEO_EXTS = (".avi", ".mp4", ".mkv", ".mov", ".m4v", ".webm", ".mpg", ".mpeg", ".wmv", ".flv")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
DEFAULT_FPS = 25.0
_STREAM_PREFIXES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


def natural_key(path: str | Path) -> list[Any]:
    """Sort key that orders ``frame2.png`` before ``frame10.png``."""
    return [int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", str(path))]


def is_glob(text: str) -> bool:
    return any(ch in text for ch in "*?[")


def as_bgr(frame: np.ndarray) -> np.ndarray:
    """Grey or BGRA frames → BGR uint8 (IR cameras often give one channel)."""
    if frame.ndim == 2:
        frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    elif frame.shape[2] == 1:
        frame = cv2.cvtColor(frame[..., 0], cv2.COLOR_GRAY2BGR)
    elif frame.shape[2] == 4:
        frame = cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    if frame.dtype != np.uint8:
        raise FrameReadError(f"frames must be 8-bit, got {frame.dtype} (convert 16-bit IR first)")
    return np.ascontiguousarray(frame)


@dataclass
class Gap:
    """A live stream that stopped delivering frames: after frame ``after_frame``, for
    ``seconds``; ``reconnected`` is false when the source gave up."""

    after_frame: int
    seconds: float
    attempts: int
    reconnected: bool


class FrameSource:
    """Base class: ``name``, ``fps``, ``num_frames`` (None for live streams), iteration."""

    name: str = "source"
    fps: float = DEFAULT_FPS
    num_frames: int | None = None
    live: bool = False

    def __iter__(self) -> Iterator[np.ndarray]:
        raise NotImplementedError

    def describe(self) -> str:
        return self.name


class VideoFileSource(FrameSource):
    """A video file decoded with decord, ``chunk`` frames at a time."""

    def __init__(self, path: str | Path, fps: float | None = None, chunk: int = 32) -> None:
        self.path = Path(path)
        self.name = self.path.stem
        self.chunk = chunk
        if not self.path.is_file():
            raise FrameReadError(f"{self.path}: video file not found")
        reader = self._open()
        self.num_frames = len(reader)
        if self.num_frames == 0:
            raise FrameReadError(f"{self.path}: the video has no frames")
        rate = float(reader.get_avg_fps() or 0.0)
        self.fps = float(fps) if fps else (rate if rate > 0 else DEFAULT_FPS)
        del reader  # reopened by the iterator, in whichever process iterates
        short = short_video_message(self.path, self.num_frames)
        if short is not None:
            log.warning("%s", short)

    def _open(self) -> Any:
        import decord

        try:
            return decord.VideoReader(str(self.path), num_threads=1)
        except Exception as err:  # decord raises DECORDError for unreadable files
            raise FrameReadError(f"{self.path}: cannot decode video ({err})") from None

    def describe(self) -> str:
        return str(self.path)

    def __iter__(self) -> Iterator[np.ndarray]:
        reader = self._open()
        total = len(reader)
        for start in range(0, total, self.chunk):
            indices = list(range(start, min(start + self.chunk, total)))
            try:
                rgb = reader.get_batch(indices).asnumpy()
            except Exception as err:
                raise FrameReadError(
                    f"{self.path}: decoding frames {start + 1}..{indices[-1] + 1} failed ({err})"
                ) from None
            for image in rgb:
                yield np.ascontiguousarray(image[..., ::-1])  # decord gives RGB


class ImageSequenceSource(FrameSource):
    """Frame images from a folder (``<dir>/*.<image ext>``) or a glob, in natural order."""

    def __init__(self, paths: list[Path], name: str, fps: float | None = None,
                 where: str = "") -> None:
        if not paths:
            raise FrameReadError(f"{where or name}: no frame images found "
                                 f"(looked for {', '.join(IMAGE_EXTS)})")
        self.paths = paths
        self.name = name
        self.where = where or name
        self.num_frames = len(paths)
        self.fps = float(fps) if fps else DEFAULT_FPS

    @classmethod
    def from_folder(cls, folder: str | Path, fps: float | None = None) -> ImageSequenceSource:
        folder = Path(folder)
        paths = sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTS),
                       key=natural_key)
        return cls(paths, folder.name, fps, str(folder))

    @classmethod
    def from_glob(cls, pattern: str, fps: float | None = None) -> ImageSequenceSource:
        paths = sorted((Path(p) for p in glob.glob(pattern) if Path(p).is_file()),
                       key=natural_key)
        name = Path(pattern).parent.name or "frames"
        return cls(paths, name, fps, pattern)

    def describe(self) -> str:
        return self.where

    def __iter__(self) -> Iterator[np.ndarray]:
        shape = None
        for path in self.paths:
            image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
            if image is None:
                raise FrameReadError(f"{path}: not a readable image")
            image = as_bgr(image)
            if shape is not None and image.shape != shape:
                raise FrameReadError(f"{path}: size {image.shape[:2]} differs from the first "
                                     f"frame's {shape[:2]}")
            shape = image.shape
            yield image


class CaptureSource(FrameSource):
    """An OpenCV capture; a live one (camera, URL) reconnects when it drops.

    ``max_reconnects`` < 0 retries forever. Each interruption is logged and passed to
    ``on_gap`` once frames flow again (or the source gives up). ``opener`` makes the capture
    (``cv2.VideoCapture`` by default; tests pass a fake).
    """

    def __init__(
        self, target: int | str, fps: float | None = None, live: bool | None = None,
        reconnect_delay: float = 1.0, max_reconnects: int = -1,
        on_gap: Callable[[Gap], None] | None = None,
        opener: Callable[[int | str], Any] | None = None,
    ) -> None:
        self.target = target
        self.name = f"camera{target}" if isinstance(target, int) else Path(str(target)).stem
        self.live = live if live is not None else (
            isinstance(target, int) or str(target).startswith(_STREAM_PREFIXES)
        )
        self.reconnect_delay = reconnect_delay
        self.max_reconnects = max_reconnects
        self.on_gap = on_gap
        self.opener = opener or cv2.VideoCapture
        self._cap = self._open_capture()
        if self._cap is None:
            raise FrameReadError(f"{self.describe()}: cannot open the stream")
        rate = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = float(fps) if fps else (rate if 0 < rate < 1000 else DEFAULT_FPS)
        self._announced: int | None = None
        if not self.live:
            count = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            self.num_frames = count if count > 0 else None
            # what the header announces is only exact for some containers (else estimated)
            self._announced = container_frame_count(str(target))

    def describe(self) -> str:
        return f"camera {self.target}" if isinstance(self.target, int) else str(self.target)

    def _open_capture(self) -> Any:
        cap = self.opener(self.target)
        if cap is None or not cap.isOpened():
            return None
        return cap

    def _reconnect(self, after_frame: int) -> bool:
        began, attempts = time.monotonic(), 0
        if self._cap is not None:
            self._cap.release()
        self._cap = None
        log.warning("%s: stream dropped after frame %d; reconnecting", self.describe(),
                    after_frame)
        while self.max_reconnects < 0 or attempts < self.max_reconnects:
            attempts += 1
            time.sleep(self.reconnect_delay)
            self._cap = self._open_capture()
            if self._cap is not None:
                gap = Gap(after_frame, time.monotonic() - began, attempts, True)
                log.warning("%s: reconnected after %.1f s (%d attempt(s))", self.describe(),
                            gap.seconds, attempts)
                if self.on_gap:
                    self.on_gap(gap)
                return True
        gap = Gap(after_frame, time.monotonic() - began, attempts, False)
        log.error("%s: gave up after %d reconnection attempt(s)", self.describe(), attempts)
        if self.on_gap:
            self.on_gap(gap)
        return False

    def __iter__(self) -> Iterator[np.ndarray]:
        count = 0
        while True:
            if self._cap is None and not self._reconnect(count):
                return
            ok, frame = self._cap.read()
            if ok and frame is not None:
                count += 1
                yield as_bgr(frame)
                continue
            if not self.live:  # a file: the end
                self._cap.release()
                self._cap = None
                if count == 0:
                    raise FrameReadError(f"{self.describe()}: no frame could be read")
                if self._announced is not None and count < self._announced:
                    log.warning("%s: only %d of the %d frames its container announces could "
                                "be read (a truncated or damaged file?)", self.describe(),
                                count, self._announced)
                return
            if not self._reconnect(count):
                return


def open_source(spec: str | int | Path, fps: float | None = None, **capture: Any) -> FrameSource:
    """A source from a path, a glob of frame images, a camera index or a stream URL.

    Video files go through decord (``VideoFileSource``); if decord cannot open one, OpenCV
    is tried before giving up. ``capture`` holds :class:`CaptureSource` options.
    """
    if isinstance(spec, int) or (isinstance(spec, str) and spec.strip().isdigit()):
        return CaptureSource(int(spec), fps, **capture)
    text = str(spec)
    if text.startswith(_STREAM_PREFIXES):
        return CaptureSource(text, fps, **capture)
    path = Path(text).expanduser()
    if is_glob(text) and not path.exists():
        return ImageSequenceSource.from_glob(str(path), fps)
    if path.is_dir():
        return ImageSequenceSource.from_folder(path, fps)
    if path.is_file():
        if path.suffix.lower() in IMAGE_EXTS:
            return ImageSequenceSource([path], path.stem, fps, str(path))
        try:
            return VideoFileSource(path, fps)
        except FrameReadError as err:
            if path.stat().st_size == 0:
                raise FrameReadError(f"{path}: empty file") from None
            try:
                return CaptureSource(str(path), fps, live=False)
            except FrameReadError:
                raise err from None
    raise ConfigError(f"{text}: no such file, folder or glob match (input/source must be a "
                      "video file, a frame folder, a glob of frames, a camera index or a URL)")
