"""Render one video: scene + plume in world coordinates, camera, sensor, overlay -> frames.

The pipeline per frame is the physical one: the plume changes the apparent temperature of
the (possibly moving) scene behind it, the camera samples the world, the sensor adds its
noise, fixed pattern and drift, and the on-screen display burns in text. Frames are pushed
to a ``sink(frame_number, grey_uint8)`` so the same renderer feeds the PNG writer, the video
writer and the statistics without keeping a whole video in memory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from iodvideo.data.synth.background import render_background
from iodvideo.data.synth.boxes import annotate
from iodvideo.data.synth.camera import (
    CameraPath,
    dynamic_path,
    static_path,
    world_margin,
)
from iodvideo.data.synth.config import SynthConfig
from iodvideo.data.synth.distractors import Distractor, draw_distractors
from iodvideo.data.synth.fitted import BoxFittedPlume
from iodvideo.data.synth.layout import VideoPlan
from iodvideo.data.synth.plume import PlumeField, draw_plume_params, envelope_box
from iodvideo.data.synth.sensor import Sensor, TextOverlay, make_sensor, make_text_overlay

FrameSink = Callable[[int, np.ndarray], None]


@dataclass(frozen=True)
class VideoLook:
    """The per-video draws from the config's ranges (kept for statistics and debugging)."""

    contrast: float  # signed: < 0 absorbing (darker), > 0 emitting (brighter)
    noise_sigma: float
    background_mean: float
    texture_sigma: float


def draw_look(rng: np.random.Generator, plan: VideoPlan, config: SynthConfig) -> VideoLook:
    contrast_range = config.clear_contrast if plan.clear else config.vague_contrast
    sign = -1.0 if rng.random() < 0.5 else 1.0
    return VideoLook(
        contrast=sign * rng.uniform(*contrast_range),
        noise_sigma=rng.uniform(*config.noise_sigma),
        background_mean=rng.uniform(*config.background_mean),
        texture_sigma=rng.uniform(*config.texture_sigma),
    )


def plume_factor(plan: VideoPlan) -> int:
    """Coarse-grid factor of the plume field: half resolution unless the image is tiny."""
    return 2 if min(plan.height, plan.width) >= 96 else 1


@dataclass
class VideoModel:
    """Everything one video is made of, drawn from its own random streams."""

    look: VideoLook
    background: np.ndarray
    world_shape: tuple[int, int]
    camera: CameraPath
    factor: int
    plume: PlumeField | BoxFittedPlume
    sensor: Sensor
    distractors: list[Distractor]
    overlay: TextOverlay | None
    rng_noise: np.random.Generator
    rng_annotator: np.random.Generator


def build_video(plan: VideoPlan, config: SynthConfig, pixels: bool = True) -> VideoModel:
    """Draw the scene, camera, plume, sensor and distractors of ``plan``.

    ``pixels=False`` skips the background image (the only costly part) for callers that
    want the boxes alone; every random draw is the same either way.
    """
    streams = np.random.SeedSequence(list(plan.entropy)).spawn(8)
    rng_look, rng_bg, rng_plume, rng_cam, rng_sensor, rng_noise, rng_extra, rng_annot = (
        np.random.default_rng(s) for s in streams
    )
    h, w, n = plan.height, plan.width, plan.nframes
    look = draw_look(rng_look, plan, config)
    margin = world_margin(w, config.camera_shift, plan.dynamic)
    world_shape = (h + 2 * margin, w + 2 * margin)
    background = (
        render_background(rng_bg, plan.scene, world_shape, look.background_mean,
                          look.texture_sigma)
        if pixels else np.zeros((1, 1), dtype=np.float32)
    )
    camera: CameraPath = (
        dynamic_path(rng_cam, n, h, w, margin, config.camera_shift, config.camera_speed)
        if plan.dynamic and margin > 0 else static_path(n)
    )
    factor = plume_factor(plan)
    if plan.target_boxes is None:
        params = draw_plume_params(
            rng_plume, h, w, margin, config.plume_length_median, config.plume_length_range,
            config.flow_speed,
        )
        plume: PlumeField | BoxFittedPlume = PlumeField(
            rng_plume, params, world_shape, factor, n, config.box_threshold
        )
    else:
        plume = BoxFittedPlume(
            rng_plume, plan.target_boxes, camera, world_shape, factor, config.box_threshold,
            config.flow_speed,
        )
    sensor = make_sensor(
        rng_sensor, (h, w), n, look.noise_sigma, config.fixed_pattern_sigma, config.gain_drift
    )
    distractors = draw_distractors(
        rng_extra, plan.scene, world_shape, w, look.background_mean, look.texture_sigma,
        config.distractors,
    )
    overlay = (
        make_text_overlay(rng_extra, (h, w), config.fps)
        if h >= 96 and rng_extra.random() < config.text_overlay else None
    )
    return VideoModel(look, background, world_shape, camera, factor, plume, sensor,
                      distractors, overlay, rng_noise, rng_annot)


def render_video(plan: VideoPlan, config: SynthConfig, sink: FrameSink) -> np.ndarray:
    """Render ``plan`` frame by frame into ``sink``; return its float32 ``(nframes, 5)`` tube."""
    return _run(plan, config, sink)


def video_tube(plan: VideoPlan, config: SynthConfig) -> np.ndarray:
    """The tube ``render_video`` returns for ``plan``, without rendering any pixel (fast)."""
    return _run(plan, config, None)


def _run(plan: VideoPlan, config: SynthConfig, sink: FrameSink | None) -> np.ndarray:
    model = build_video(plan, config, pixels=sink is not None)
    h, w, n = plan.height, plan.width, plan.nframes
    camera, plume, factor, world_shape = model.camera, model.plume, model.factor, model.world_shape
    gh, gw = plume.grid_shape
    contrast = np.float32(model.look.contrast)
    raw_boxes = np.zeros((n, 4))
    last_box = None
    for t in range(n):
        envelope = plume.envelope(t)
        if sink is not None:
            world = model.background.copy() if model.distractors else model.background
            for thing in model.distractors:
                thing.draw(world, t)
            density = plume.density(t, envelope)
            if camera.is_static or camera.is_translation:
                # plume and scene cropped to the view before upsampling: less work
                frame_view = camera.crop(world, t, h, w) if not camera.is_static else world
                gas = _gas_in_view(density, camera, t, factor, h, w)
                scene = frame_view + contrast * gas
            else:
                gas = cv2.resize(density, (gw * factor, gh * factor),
                                 interpolation=cv2.INTER_LINEAR)
                scene = world + contrast * gas[: world_shape[0], : world_shape[1]]
                scene = cv2.warpAffine(
                    scene, camera.matrix(t), (w, h),
                    flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT,
                )
            frame = model.sensor.apply(scene, t, model.rng_noise)
            if model.overlay is not None:
                model.overlay.draw(frame, t)
            sink(t + 1, frame)
        box = envelope_box(envelope, config.box_threshold, factor)
        if box is None:  # plume momentarily below threshold: keep the annotation where it was
            box = last_box if last_box is not None else _source_box(plume)
        last_box = box
        xs, ys = camera.world_to_frame(t, np.array(box[0::2]), np.array(box[1::2]))
        raw_boxes[t] = (xs[0], ys[0], xs[1], ys[1])
    if plan.target_boxes is not None:
        return np.ascontiguousarray(plan.target_boxes, dtype=np.float32)
    return annotate(raw_boxes, model.rng_annotator, h, w, config.box_smoothing)


def _gas_in_view(
    density: np.ndarray, camera: CameraPath, t: int, factor: int, h: int, w: int
) -> np.ndarray:
    """Full-resolution gas of the frame's view only, for a static or whole-pixel camera."""
    ox, oy = (int(round(float(v))) for v in camera.offset[t])
    if factor == 1:
        return density[oy:oy + h, ox:ox + w]
    # coarse cells covering the view plus one on each side, upsampled, then cropped exactly
    cy0, cx0 = max(oy // factor - 1, 0), max(ox // factor - 1, 0)
    cy1 = min(-(-(oy + h) // factor) + 1, density.shape[0])
    cx1 = min(-(-(ox + w) // factor) + 1, density.shape[1])
    part = density[cy0:cy1, cx0:cx1]
    big = cv2.resize(part, (part.shape[1] * factor, part.shape[0] * factor),
                     interpolation=cv2.INTER_LINEAR)
    y0, x0 = oy - cy0 * factor, ox - cx0 * factor
    return big[y0:y0 + h, x0:x0 + w]


def _source_box(plume: PlumeField | BoxFittedPlume) -> tuple[float, float, float, float]:
    x, y = plume.source_point()
    return x - 2.0, y - 2.0, x + 2.0, y + 2.0
