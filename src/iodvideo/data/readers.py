"""Frame readers for the two on-disk forms of an IOD-Video-layout dataset.

- :class:`FrameFolderReader`: ``<frames_root>/<video>/<frame:05d>.<ext>`` (PNG or JPEG), the
  layout of the released dataset;
- :class:`VideoFileReader`: ``<videos_root>/<video>.<ext>`` (``.avi``/``.mp4``), decoded with
  decord's random access.

Both return uint8 ``(T, H, W, 3)`` in OpenCV's BGR order, as the reference reads frames (IR
frames are grey, so the order only matters through the per-channel normalisation), and both
check that a video has the ``nframes`` the annotation promises. A video file that decodes to
fewer frames than its container's header announces (a truncated ``.avi``: decord indexes what
is there and stops) is reported once per file and process (:func:`container_frame_count`).
"""

from __future__ import annotations

import os
import warnings
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from iodvideo.errors import FrameReadError

# decord readers inherited from a parent process; never destroyed (see VideoFileReader).
_INHERITED_READERS: list[Any] = []
# containers whose header stores the frame count (for the others FFmpeg only estimates it
# from the duration, which would report fine files as short)
COUNTED_CONTAINERS = (".avi", ".mp4", ".mov", ".m4v")
_REPORTED_SHORT: set[str] = set()


def container_frame_count(path: str | Path) -> int | None:
    """The frame count ``path``'s container header announces (AVI: the stream header; MP4:
    the sample table), read with OpenCV's FFmpeg backend; None for containers that store no
    count, or when OpenCV cannot open the file. Cheap: only the header is parsed."""
    if Path(path).suffix.lower() not in COUNTED_CONTAINERS:
        return None
    capture = cv2.VideoCapture(str(path))
    try:
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) if capture.isOpened() else 0
    finally:
        capture.release()
    return count if count > 0 else None


def short_video_message(path: str | Path, decoded: int) -> str | None:
    """``"<path>: only N of the M frames its container announces are in the file ..."`` when
    ``path`` holds (decord's index: ``decoded``) fewer frames than its header announces, else
    None. The last of those may itself be cut short and fail to decode (a clear error then)."""
    announced = container_frame_count(path)
    if announced is None or decoded >= announced:
        return None
    return (f"{path}: only {decoded} of the {announced} frames its container announces are "
            "in the file (a truncated or damaged file?); reading those")


def warn_if_short(path: str | Path, decoded: int) -> None:
    """Warn (once per file and process) that ``path`` decodes to fewer frames than its
    container announces."""
    key = str(path)
    if key in _REPORTED_SHORT:
        return
    _REPORTED_SHORT.add(key)
    message = short_video_message(path, decoded)
    if message is not None:
        warnings.warn(message, stacklevel=3)


class FrameReader(Protocol):
    def read(self, video: str, frames: Sequence[int], nframes: int | None = None) -> np.ndarray:
        """1-based ``frames`` of ``video`` as uint8 ``(T, H, W, 3)`` BGR."""
        ...

    def describe(self, video: str) -> str:
        """Where ``video`` lives on disk, for error messages."""
        ...


class FrameFolderReader:
    """Reads one image file per frame; ``video`` keys include the class folder."""

    def __init__(self, frames_root: str | Path, image_ext: str = "png") -> None:
        self.frames_root = Path(frames_root)
        self.image_ext = image_ext.lstrip(".")

    def frame_path(self, video: str, frame: int) -> Path:
        return self.frames_root / video / f"{int(frame):05d}.{self.image_ext}"

    def describe(self, video: str) -> str:
        return str(self.frames_root / video)

    def read(self, video: str, frames: Sequence[int], nframes: int | None = None) -> np.ndarray:
        if nframes is not None and max(frames) > nframes:
            raise FrameReadError(f"{self.describe(video)}: frame {max(frames)} > nframes {nframes}")
        images = []
        for frame in frames:
            path = self.frame_path(video, frame)
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                reason = "missing" if not path.exists() else "not a readable image"
                raise FrameReadError(f"{path}: frame {frame} of {video} is {reason}")
            if images and image.shape != images[0].shape:
                raise FrameReadError(
                    f"{path}: size {image.shape[:2]} differs from the clip's first frame "
                    f"{images[0].shape[:2]}"
                )
            images.append(image)
        return np.stack(images)


class VideoFileReader:
    """Random-access decoding of whole video files with decord.

    decord readers must not cross a ``fork``: one shared into DataLoader workers hangs. So a
    reader is opened lazily, inside the process that uses it, and the cache is dropped when
    the process id changes; at most ``cache_size`` videos stay open per process.
    """

    def __init__(
        self, videos_root: str | Path, video_ext: str = "avi", cache_size: int = 8
    ) -> None:
        self.videos_root = Path(videos_root)
        self.video_ext = video_ext.lstrip(".")
        self.cache_size = cache_size
        self._pid: int | None = None
        self._open: OrderedDict[str, Any] = OrderedDict()

    def video_path(self, video: str) -> Path:
        return self.videos_root / f"{video}.{self.video_ext}"

    def describe(self, video: str) -> str:
        return str(self.video_path(video))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_pid"], state["_open"] = None, OrderedDict()  # never pickle open readers
        return state

    def _reader(self, video: str) -> Any:
        if self._pid != os.getpid():
            # Readers inherited through fork belong to the parent; destroying one here joins
            # decoder threads that do not exist in this process and hangs. Keep them alive.
            _INHERITED_READERS.extend(self._open.values())
            self._pid, self._open = os.getpid(), OrderedDict()
        if video in self._open:
            self._open.move_to_end(video)
            return self._open[video]
        path = self.video_path(video)
        if not path.is_file():
            raise FrameReadError(f"{path}: video file of {video} is missing")
        import decord  # imported here: its native library is only needed for video sources

        try:
            reader = decord.VideoReader(str(path), num_threads=1)
        except Exception as err:  # decord raises its own DECORDError for corrupt files
            raise FrameReadError(f"{path}: cannot decode video ({err})") from None
        warn_if_short(path, len(reader))
        self._open[video] = reader
        if len(self._open) > self.cache_size:
            self._open.popitem(last=False)
        return reader

    def num_frames(self, video: str) -> int:
        return len(self._reader(video))

    def read(self, video: str, frames: Sequence[int], nframes: int | None = None) -> np.ndarray:
        reader = self._reader(video)
        available = len(reader)
        if nframes is not None and available != nframes:
            announced = container_frame_count(self.video_path(video))
            hint = (f" (its container announces {announced}: a truncated file?)"
                    if announced is not None and announced > available else "")
            raise FrameReadError(
                f"{self.video_path(video)}: has {available} frames but the annotation "
                f"says nframes={nframes}{hint}"
            )
        if max(frames) > available or min(frames) < 1:
            raise FrameReadError(
                f"{self.video_path(video)}: frames {min(frames)}..{max(frames)} "
                f"outside 1..{available}"
            )
        try:
            rgb = reader.get_batch([int(f) - 1 for f in frames]).asnumpy()
        except Exception as err:
            raise FrameReadError(f"{self.video_path(video)}: decoding failed ({err})") from None
        return np.ascontiguousarray(rgb[..., ::-1])  # decord gives RGB; keep BGR like cv2
