"""Frame and video files in IOD-Video's layout.

Frames: ``<root>/Frames/<video key>/<frame:05d>.<ext>``, 3 identical grey channels, as the
real PNGs (the readers load BGR). Videos (optional): ``<root>/Videos/<video key>.avi``
(FFV1, lossless, so decoded pixels equal the PNGs) or ``.mp4`` (mp4v, lossy), the layout
``iodvideo.data.readers.VideoFileReader`` and ``iodvideo.data.convert`` use.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from iodvideo.errors import IODVideoError

FRAMES_DIR = "Frames"
VIDEOS_DIR = "Videos"
VIDEO_CODECS = {"avi": "FFV1", "mp4": "mp4v"}


class SynthWriteError(IODVideoError):
    """A frame or video file could not be written (disk full, no codec, bad path)."""


class VideoSink:
    """Writes one video's frames (grey uint8) as image files and optionally a video file."""

    def __init__(
        self, root: Path, video: str, image_ext: str, video_format: str, fps: float,
        size: tuple[int, int],
    ) -> None:
        self.folder = root / FRAMES_DIR / video
        self.folder.mkdir(parents=True, exist_ok=True)
        self.image_ext = image_ext
        self._video: cv2.VideoWriter | None = None
        self._video_path: Path | None = None
        if video_format != "none":
            path = root / VIDEOS_DIR / f"{video}.{video_format}"
            path.parent.mkdir(parents=True, exist_ok=True)
            height, width = size
            writer = cv2.VideoWriter(
                str(path), cv2.VideoWriter_fourcc(*VIDEO_CODECS[video_format]), fps,
                (width, height),
            )
            if not writer.isOpened():
                raise SynthWriteError(
                    f"{path}: OpenCV cannot encode {VIDEO_CODECS[video_format]} here; "
                    "use video_format=none or another format"
                )
            self._video, self._video_path = writer, path

    def __call__(self, frame_number: int, grey: np.ndarray) -> None:
        bgr = cv2.merge([grey, grey, grey])
        path = self.folder / f"{frame_number:05d}.{self.image_ext}"
        if not cv2.imwrite(str(path), bgr):
            raise SynthWriteError(f"{path}: could not write frame {frame_number}")
        if self._video is not None:
            self._video.write(bgr)

    def close(self) -> None:
        if self._video is not None:
            self._video.release()
            self._video = None
