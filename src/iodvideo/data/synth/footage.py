"""Plumes over the user's own footage (``backgrounds=``): frames of a fixed plant camera.

A detector for one camera learns best from that camera's own scene: its clutter, its people
and vegetation, its gain and compression. With ``backgrounds`` naming footage, SynthIOD draws
its plumes on top of that footage's frames instead of on a synthetic scene.

Sources: a video file (anything OpenCV decodes), an image file (a still background), or a
folder, searched recursively: every video file in it is one source, and every folder holding
image files is one frame sequence (its images in name order). Each frame is read as 8-bit
grey, restricted to ``backgrounds_frames`` ([first, last] 1-based frame numbers, both
included, ``last`` clipped to each source's length; or [a, b] fractions of each source as in
``data.frames``: frames ``floor(a n) + 1 .. floor(b n)``) and to ``backgrounds_crop``
([x1, y1, x2, y2] pixels of the source frame, ``frame[y1:y2, x1:x2]``: x2 and y2 excluded),
then fitted to the SynthIOD frame size: ``cover`` scales it uniformly until it covers
``height x width`` and each video takes a random window of it; ``stretch`` resizes it to
exactly ``height x width``. A crop of exactly ``height x width`` is used as is, pixel for
pixel.

Each video picks a source and a start frame; footage shorter than the video plays forwards
and backwards (no jump). Decoded sources are kept in memory per process (a DataLoader worker
decodes its own), at most ``MAX_BYTES`` each; restrict longer ones with ``backgrounds_frames``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from iodvideo.data.synth.config import SynthConfig
from iodvideo.errors import ConfigError

VIDEO_EXTS = (".avi", ".mp4", ".mkv", ".mov", ".mpg", ".mpeg", ".webm", ".m4v", ".wmv", ".ts")
IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
MAX_BYTES = 1 << 30  # decoded, fitted frames of one source
CACHED_SOURCES = 4  # decoded sources kept per process (least recently used dropped)


@dataclass(frozen=True)
class Source:
    """One piece of footage: a video file (``frames`` empty) or a sequence of image files."""

    path: Path
    frames: tuple[Path, ...] = ()


_SOURCES: dict[str, list[Source]] = {}


def list_sources(path: str | Path) -> list[Source]:
    """Every source under ``path`` in a fixed order (listed once per process); ConfigError if
    there is none."""
    key = str(path)
    if key not in _SOURCES:
        _SOURCES[key] = _find_sources(Path(path))
    return _SOURCES[key]


def _find_sources(path: Path) -> list[Source]:
    if path.is_file():
        if path.suffix.lower() in IMAGE_EXTS:
            return [Source(path, (path,))]
        return [Source(path)]
    if not path.is_dir():
        raise ConfigError(f"synth.backgrounds={str(path)!r}: no such file or folder")
    sources = []
    for folder in sorted([path, *(p for p in path.rglob("*") if p.is_dir())]):
        children = sorted(p for p in folder.iterdir() if p.is_file())
        images = tuple(p for p in children if p.suffix.lower() in IMAGE_EXTS)
        if images:
            sources.append(Source(folder, images))
        sources += [Source(p) for p in children if p.suffix.lower() in VIDEO_EXTS]
    if not sources:
        raise ConfigError(
            f"synth.backgrounds={str(path)!r}: no video files ({' '.join(VIDEO_EXTS)}) or "
            f"image frames ({' '.join(IMAGE_EXTS)}) found in this folder"
        )
    return sources


def _grey(image: np.ndarray) -> np.ndarray:
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(image, code)
    return image


def _read_image(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if image is None or image.size == 0:
        raise ConfigError(f"synth.backgrounds: {path}: cannot decode this image")
    return image


def _frame_range(config: SynthConfig, source: Source, total: int | None) -> tuple[int, int]:
    """0-based [first, stop) of the frames to use; ``total`` None = unknown (read to stop)."""
    spec = config.backgrounds_frames
    if not spec:
        return 0, total if total is not None else 1 << 62
    if all(isinstance(v, int) for v in spec):
        first, stop = int(spec[0]) - 1, int(spec[1])
    else:  # as data.frames: frames floor(a n) + 1 .. floor(b n), 1-based
        if total is None:
            raise ValueError("fractions need the frame count")
        first = math.floor(round(spec[0] * total, 6))
        stop = math.floor(round(spec[1] * total, 6))
    if total is not None:
        if first >= min(stop, total):
            raise ConfigError(
                f"synth.backgrounds_frames={list(spec)}: no frame of {source.path} "
                f"({total} frames) is in this range"
            )
        stop = min(stop, total)
    return first, stop


def _decode(config: SynthConfig, source: Source) -> list[np.ndarray]:
    """The grey frames of ``source`` inside ``backgrounds_frames``, uncropped."""
    if source.frames:
        first, stop = _frame_range(config, source, len(source.frames))
        return [_read_image(p) for p in source.frames[first:stop]]
    capture = cv2.VideoCapture(str(source.path))
    try:
        frames: list[np.ndarray] = []
        fractions = config.backgrounds_frames and not all(
            isinstance(v, int) for v in config.backgrounds_frames)
        first, stop = (0, 1 << 62) if fractions else _frame_range(config, source, None)
        index, size = 0, 0
        while capture.isOpened() and index < stop:
            ok, frame = capture.read()
            if not ok:
                break
            if index >= first:
                frames.append(_grey(frame))
                size += frames[-1].nbytes
                if size > MAX_BYTES:
                    raise ConfigError(
                        f"synth.backgrounds: {source.path}: more than {MAX_BYTES >> 20} MB of "
                        "decoded frames; choose a part with backgrounds_frames=[first,last]"
                    )
            index += 1
    finally:
        capture.release()
    if not frames and index == 0:
        raise ConfigError(
            f"synth.backgrounds: {source.path}: OpenCV cannot read a frame from it (not a "
            "video, or a codec this OpenCV lacks)"
        )
    if fractions:
        first, stop = _frame_range(config, source, len(frames))
        return frames[first:stop]
    if not frames:
        _frame_range(config, source, index)  # raises: the range starts after the last frame
    return frames


def _crop_and_fit(config: SynthConfig, source: Source, frames: list[np.ndarray]) -> np.ndarray:
    h, w = config.height, config.width
    fh, fw = frames[0].shape
    if any(f.shape != (fh, fw) for f in frames):
        raise ConfigError(f"synth.backgrounds: {source.path}: frames of different sizes")
    x1, y1, x2, y2 = config.backgrounds_crop or (0, 0, fw, fh)
    if x2 > fw or y2 > fh:
        raise ConfigError(
            f"synth.backgrounds_crop={list(config.backgrounds_crop)} lies outside the "
            f"{fw}x{fh} frames of {source.path}"
        )
    ch, cw = y2 - y1, x2 - x1
    if config.backgrounds_fit == "stretch":
        size = (w, h)
    else:
        scale = max(h / ch, w / cw)
        size = (max(w, int(round(cw * scale))), max(h, int(round(ch * scale))))
    out = np.empty((len(frames), size[1], size[0]), dtype=np.uint8)
    shrink = size[0] * size[1] < cw * ch
    for i, frame in enumerate(frames):
        part = frame[y1:y2, x1:x2]
        out[i] = part if size == (cw, ch) else cv2.resize(
            part, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    return out


_CACHE: OrderedDict[tuple, np.ndarray] = OrderedDict()


def load_source(config: SynthConfig, source: Source) -> np.ndarray:
    """``(T, H', W')`` uint8 frames of ``source``, cropped and fitted (cached per process)."""
    key = (source.path, config.backgrounds_frames, config.backgrounds_crop, config.backgrounds_fit,
           config.height, config.width)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    frames = _decode(config, source)
    fitted = _crop_and_fit(config, source, frames)
    _CACHE[key] = fitted
    while len(_CACHE) > CACHED_SOURCES:
        _CACHE.popitem(last=False)
    return fitted


def check_backgrounds(config: SynthConfig) -> int:
    """Read the first frame of every source now (one ConfigError line naming a bad file);
    returns the number of sources. Nothing is checked without ``backgrounds``."""
    if not config.backgrounds:
        return 0
    sources = list_sources(config.backgrounds)
    for source in sources:
        if source.frames:
            frames = [_read_image(source.frames[0])]
        else:
            capture = cv2.VideoCapture(str(source.path))
            ok, frame = capture.read()
            capture.release()
            if not ok:
                raise ConfigError(
                    f"synth.backgrounds: {source.path}: OpenCV cannot read a frame from it "
                    "(not a video, or a codec this OpenCV lacks)"
                )
            frames = [_grey(frame)]
        _crop_and_fit(config, source, frames)  # the crop must fit its frames
    return len(sources)


def _bounce(index: np.ndarray, length: int) -> np.ndarray:
    """Frame indices played forwards then backwards past the end: 0 1 2 1 0 1 ..."""
    if length == 1:
        return np.zeros_like(index)
    period = 2 * length - 2
    m = index % period
    return np.where(m < length, m, period - m)


class Footage:
    """The background footage of one config; ``clip`` draws one video's frames."""

    def __init__(self, config: SynthConfig) -> None:
        self.config = config
        self.sources = list_sources(config.backgrounds)

    def clip(self, rng: np.random.Generator, nframes: int) -> np.ndarray:
        """``(nframes, height, width)`` uint8: a random source, start frame and window."""
        h, w = self.config.height, self.config.width
        source = self.sources[int(rng.integers(len(self.sources)))]
        frames = load_source(self.config, source)
        length, fh, fw = frames.shape
        start = int(rng.integers(0, max(length - nframes, 0) + 1))
        oy = int(rng.integers(0, fh - h + 1))
        ox = int(rng.integers(0, fw - w + 1))
        index = _bounce(start + np.arange(nframes), length)
        return np.ascontiguousarray(frames[index, oy:oy + h, ox:ox + w])
