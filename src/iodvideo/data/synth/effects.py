"""What happens to the picture between the sensor and the file: the camera's video path.

Real IR footage reaches a detector through a camera body and a recorder, not as clean sensor
values: a static camera still shakes a little (wind, a pump on the same frame), the picture
may be shown black-hot (hot = dark), squeezed between black letterbox bars, stamped with text
and compressed with MJPEG (8x8 blocks, ringing) or H.264 (blocks that are not refreshed while
they change little, so static noise - and faint gas - freezes until the next key frame). Each
effect is drawn per video with its SynthConfig probability from its own random stream, so
changing one probability leaves every other draw alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from iodvideo.data.synth.noise import smooth_series
from iodvideo.data.synth.sensor import AutoGain, TextOverlay, shading_map

BLOCK = 16  # H.264 macroblock


@dataclass(frozen=True)
class Shake:
    """Small per-frame displacement of the whole picture (static cameras), ``(T, 2)`` px."""

    offset: np.ndarray

    def apply(self, scene: np.ndarray, t: int) -> np.ndarray:
        dx, dy = (float(v) for v in self.offset[t])
        h, w = scene.shape
        m = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
        return cv2.warpAffine(scene, m, (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)


def make_shake(rng: np.random.Generator, nframes: int, width: int) -> Shake:
    """Jitter of 0.2-0.8 px (at 320 px wide) with a period of a few frames."""
    amplitude = rng.uniform(0.2, 0.8) * width / 320.0
    period = rng.uniform(3.0, 10.0)
    offset = np.stack([smooth_series(rng, nframes, period, octaves=2),
                       smooth_series(rng, nframes, period * 1.3, octaves=2)], axis=1)
    return Shake(offset * amplitude / np.sqrt(2.0))


@dataclass(frozen=True)
class Letterbox:
    """The picture squeezed into ``[top, h - bottom) x [left, w - right)``, bars elsewhere."""

    top: int
    bottom: int
    left: int
    right: int
    value: int

    def apply(self, frame: np.ndarray) -> np.ndarray:
        h, w = frame.shape
        out = np.full_like(frame, self.value)
        size = (w - self.left - self.right, h - self.top - self.bottom)
        out[self.top:h - self.bottom, self.left:w - self.right] = cv2.resize(
            frame, size, interpolation=cv2.INTER_AREA)
        return out

    def map_box(self, box: np.ndarray, height: int, width: int) -> np.ndarray:
        """Boxes ``(..., 4)`` of the full picture -> the squeezed one (pixel centres kept)."""
        sx = (width - self.left - self.right) / width
        sy = (height - self.top - self.bottom) / height
        out = np.array(box, dtype=np.float64)
        out[..., 0::2] = self.left + (out[..., 0::2] + 0.5) * sx - 0.5
        out[..., 1::2] = self.top + (out[..., 1::2] + 0.5) * sy - 0.5
        return out


def make_letterbox(rng: np.random.Generator, height: int, width: int) -> Letterbox:
    """Bars above and below (a thick one on top, like a 4:3 picture in a wider recorder) or,
    one time in six, at the sides; black, sometimes a dark grey."""
    if rng.random() < 5 / 6:
        top, bottom = rng.uniform(0.04, 0.18) * height, rng.uniform(0.0, 0.07) * height
        left = right = 0.0
    else:
        top = bottom = 0.0
        left, right = (rng.uniform(0.03, 0.12) * width for _ in range(2))
    value = 0 if rng.random() < 0.8 else int(rng.integers(8, 40))
    return Letterbox(int(top), int(bottom), int(left), int(right), value)


class Compression:
    """MJPEG (every frame a JPEG) or H.264-like (JPEG key frames every ``gop`` frames; in
    between, a 16x16 block whose mean change is below ``skip`` grey levels keeps the previous
    decoded block)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.h264 = bool(rng.random() < 0.5)
        self.quality = int(rng.uniform(50, 90) if self.h264 else rng.uniform(40, 90))
        self.gop = int(rng.integers(12, 60))
        self.skip = float(rng.uniform(0.5, 1.5))
        self._previous: np.ndarray | None = None

    def apply(self, frame: np.ndarray, t: int) -> np.ndarray:
        ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        out = cv2.imdecode(data, cv2.IMREAD_GRAYSCALE) if ok else frame.copy()
        previous = self._previous
        if self.h264 and previous is not None and t % self.gop != 0 and t > 0:
            h, w = frame.shape
            bh, bw = h // BLOCK, w // BLOCK
            if bh and bw:
                region = (slice(0, bh * BLOCK), slice(0, bw * BLOCK))
                change = cv2.absdiff(frame[region], previous[region]).astype(np.float32)
                means = cv2.resize(change, (bw, bh), interpolation=cv2.INTER_AREA)
                keep = np.repeat(np.repeat(means < self.skip, BLOCK, 0), BLOCK, 1)
                out[region][keep] = previous[region][keep]
        self._previous = out
        return out


@dataclass
class Display:
    """Polarity, letterbox, burnt-in text and compression, in that order, on uint8 frames."""

    black_hot: bool = False
    letterbox: Letterbox | None = None
    overlay: TextOverlay | None = None
    compression: Compression | None = None

    def apply(self, frame: np.ndarray, t: int) -> np.ndarray:
        if self.black_hot:
            frame = 255 - frame
        if self.letterbox is not None:
            frame = self.letterbox.apply(frame)
        if self.overlay is not None:
            self.overlay.draw(frame, t)
        if self.compression is not None:
            frame = self.compression.apply(frame, t)
        return frame


@dataclass
class Effects:
    """One video's camera effects (None / False = off)."""

    shake: Shake | None
    shading: np.ndarray | None
    agc: AutoGain | None
    display: Display

    def map_boxes(self, boxes: np.ndarray, height: int, width: int) -> np.ndarray:
        """Per-frame plume boxes ``(T, 4)`` -> where the picture shows them."""
        out = np.array(boxes, dtype=np.float64)
        if self.shake is not None:
            out[:, 0::2] += self.shake.offset[:, :1]
            out[:, 1::2] += self.shake.offset[:, 1:]
        if self.display.letterbox is not None:
            out = self.display.letterbox.map_box(out, height, width)
        return out


def draw_effects(
    seeds: dict[str, np.random.SeedSequence],
    probabilities: dict[str, float],
    nframes: int,
    shape: tuple[int, int],
    overlay: TextOverlay | None,
    shake: bool = True,
    letterbox: bool = True,
) -> Effects:
    """Draw each effect from its own seed: on with its probability, then its parameters.

    ``shake=False`` (a moving camera: it shakes already) and ``letterbox=False`` (boxes given
    in frame pixels, ``trajectories=real``) leave those effects out.
    """
    h, w = shape
    rng = {name: np.random.default_rng(seed) for name, seed in seeds.items()}

    def on(name: str) -> bool:
        return bool(rng[name].random() < probabilities[name])

    jitter = make_shake(rng["shake"], nframes, w) if on("shake") and shake else None
    agc = AutoGain(rng["agc"], nframes) if on("agc") else None
    shading = shading_map(rng["vignetting"], shape) if on("vignetting") else None
    compression = Compression(rng["compression"]) if on("compression") else None
    black_hot = on("black_hot")
    bars = (make_letterbox(rng["letterbox"], h, w)
            if on("letterbox") and letterbox and h >= 48 else None)
    return Effects(jitter, shading, agc, Display(black_hot, bars, overlay, compression))
