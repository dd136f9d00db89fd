"""Render one video: scene + plume in world coordinates, camera, sensor, display -> frames.

The pipeline per frame is the physical one: the plume changes the apparent temperature of
the (possibly moving) scene behind it, the camera samples the world (and may shake), the
sensor adds vignetting, its noise, fixed pattern, drift and automatic gain, and the video path
applies polarity, letterbox bars, burnt-in text and compression (``effects``). Over the
user's footage (``backgrounds``) the scene is a frame of that footage and, unless
``backgrounds_effects``, nothing but the gas is added: ``frame = clip(rint(footage + gas))``.
Frames are pushed to a ``sink(frame_number, grey_uint8)`` so the same renderer feeds the PNG
writer, the video writer and the statistics without keeping a whole video in memory.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from iodvideo.data.synth.boxes import annotate
from iodvideo.data.synth.camera import CameraPath
from iodvideo.data.synth.config import SynthConfig
from iodvideo.data.synth.fitted import BoxFittedPlume
from iodvideo.data.synth.layout import VideoPlan
from iodvideo.data.synth.plume import PlumeField, envelope_box
from iodvideo.data.synth.video import (  # noqa: F401  (re-exported for callers)
    VideoLook,
    VideoModel,
    build_video,
    draw_look,
    plume_factor,
)

FrameSink = Callable[[int, np.ndarray], None]
GasSink = Callable[[int, np.ndarray], None]


def render_video(
    plan: VideoPlan, config: SynthConfig, sink: FrameSink, gas_sink: GasSink | None = None
) -> np.ndarray:
    """Render ``plan`` frame by frame into ``sink``; return its float32 ``(nframes, 5)`` tube.

    ``gas_sink(frame_number, gas)``, if given, receives the grey levels the plume adds to each
    frame before the camera shake and the sensor (float32, frame pixels; for tests and
    pictures).
    """
    return _run(plan, config, sink, gas_sink)


def video_tube(plan: VideoPlan, config: SynthConfig) -> np.ndarray:
    """The tube ``render_video`` returns for ``plan``, without rendering any pixel (fast)."""
    return _run(plan, config, None)


def _run(
    plan: VideoPlan, config: SynthConfig, sink: FrameSink | None, gas_sink: GasSink | None = None
) -> np.ndarray:
    model = build_video(plan, config, pixels=sink is not None)
    h, w, n = plan.height, plan.width, plan.nframes
    camera, plume, factor = model.camera, model.plume, model.factor
    raw_boxes = np.zeros((n, 4))
    last_box = None
    for t in range(n):
        envelope = plume.envelope(t)
        if sink is not None:
            scene, gas = _scene(model, t, envelope, h, w, gas_sink is not None)
            if gas_sink is not None and gas is not None:
                gas_sink(t + 1, gas)
            sink(t + 1, _frame(model, scene, t))
        box = envelope_box(envelope, config.box_threshold, factor)
        if box is None:  # plume momentarily below threshold: keep the annotation where it was
            box = last_box if last_box is not None else _source_box(plume)
        last_box = box
        xs, ys = camera.world_to_frame(t, np.array(box[0::2]), np.array(box[1::2]))
        raw_boxes[t] = (xs[0], ys[0], xs[1], ys[1])
    if plan.target_boxes is not None:
        return np.ascontiguousarray(plan.target_boxes, dtype=np.float32)
    raw_boxes = model.effects.map_boxes(raw_boxes, h, w)
    return annotate(raw_boxes, model.rng_annotator, h, w, config.box_smoothing)


def _scene(
    model: VideoModel, t: int, envelope: np.ndarray, h: int, w: int, want_gas: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Frame ``t`` before the sensor (float32 grey levels) and the gas's share of it (for a
    resampling camera only if ``want_gas``)."""
    camera, plume, factor = model.camera, model.plume, model.factor
    contrast = np.float32(model.look.contrast)
    density = plume.density(t, envelope)
    if model.footage is not None:  # the user's footage: a static camera by construction
        gas = contrast * _gas_in_view(density, camera, t, factor, h, w)
        return model.footage[t].astype(np.float32) + gas, gas
    assert model.background is not None
    world = model.background.copy() if model.distractors else model.background
    for thing in model.distractors:
        thing.draw(world, t)
    if camera.is_static or camera.is_translation:
        # plume and scene cropped to the view before upsampling: less work
        frame_view = camera.crop(world, t, h, w) if not camera.is_static else world
        gas = contrast * _gas_in_view(density, camera, t, factor, h, w)
        return frame_view + gas, gas
    gh, gw = plume.grid_shape
    world_h, world_w = model.world_shape
    big = cv2.resize(density, (gw * factor, gh * factor), interpolation=cv2.INTER_LINEAR)
    gas_world = contrast * big[:world_h, :world_w]
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    scene = cv2.warpAffine(world + gas_world, camera.matrix(t), (w, h), flags=flags,
                           borderMode=cv2.BORDER_REFLECT)
    gas = cv2.warpAffine(gas_world, camera.matrix(t), (w, h), flags=flags,
                         borderMode=cv2.BORDER_REFLECT) if want_gas else None
    return scene, gas


def _frame(model: VideoModel, scene: np.ndarray, t: int) -> np.ndarray:
    """The uint8 frame the camera records of ``scene``."""
    if model.composite_only:
        return np.clip(np.rint(scene), 0, 255).astype(np.uint8)
    effects = model.effects
    if effects.shake is not None:
        scene = effects.shake.apply(scene, t)
    frame = model.sensor.apply(scene, t, model.rng_noise)
    return effects.display.apply(frame, t)


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
