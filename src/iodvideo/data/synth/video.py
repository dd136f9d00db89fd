"""Everything one video is made of, drawn from its own random streams before any frame.

Each part has its own stream, spawned from the video's entropy (``VideoPlan.entropy``), so
switching one effect on or off (or changing its probability) leaves every other draw as it
was. With ``backgrounds`` (the user's footage) the synthetic scene, its distractors and the
moving camera are replaced by frames of that footage; the camera effects then apply only if
``backgrounds_effects`` says so.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from iodvideo.data.synth.background import INDOOR, draw_source, render_background
from iodvideo.data.synth.band import BandField, band_probability, draw_band_params
from iodvideo.data.synth.camera import CameraPath, dynamic_path, static_path, world_margin
from iodvideo.data.synth.config import SynthConfig
from iodvideo.data.synth.distractors import Drawable, draw_distractors, draw_stems, draw_worker
from iodvideo.data.synth.effects import Display, Effects, draw_effects
from iodvideo.data.synth.fitted import BoxFittedPlume
from iodvideo.data.synth.layout import VideoPlan
from iodvideo.data.synth.plume import PlumeField, draw_plume_params
from iodvideo.data.synth.sensor import Sensor, make_sensor, make_text_overlay

# spawn index of each random stream of a video (0-7: the original generator's)
STREAMS = ("look", "background", "plume", "camera", "sensor", "noise", "extra", "annotator",
           "shake", "agc", "vignetting", "compression", "black_hot", "letterbox", "footage",
           "workers", "sky", "plume_source", "flatness", "band", "stems")
EFFECTS = ("shake", "agc", "vignetting", "compression", "black_hot", "letterbox")


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
    """Everything one video is made of."""

    look: VideoLook
    background: np.ndarray | None  # world canvas (None: footage)
    footage: np.ndarray | None  # (T, H, W) uint8 frames of the user's footage
    world_shape: tuple[int, int]
    camera: CameraPath
    factor: int
    plume: PlumeField | BoxFittedPlume
    sensor: Sensor
    distractors: list[Drawable]
    effects: Effects
    rng_noise: np.random.Generator
    rng_annotator: np.random.Generator
    composite_only: bool = False  # footage plus gas, nothing else (no sensor, no effects)


def build_video(plan: VideoPlan, config: SynthConfig, pixels: bool = True) -> VideoModel:
    """Draw the scene, camera, plume, sensor, distractors and effects of ``plan``.

    ``pixels=False`` skips the background image and the footage (the only costly parts) for
    callers that want the boxes alone; every random draw that shapes a box is the same.
    """
    seeds = dict(zip(STREAMS, np.random.SeedSequence(list(plan.entropy)).spawn(len(STREAMS)),
                     strict=True))
    rng = {name: np.random.default_rng(seed) for name, seed in seeds.items()}
    h, w, n = plan.height, plan.width, plan.nframes
    footage_mode = bool(config.backgrounds)
    look = draw_look(rng["look"], plan, config)
    dynamic = plan.dynamic and not footage_mode
    margin = world_margin(w, config.camera_shift, dynamic)
    world_shape = (h + 2 * margin, w + 2 * margin)
    has_sky = rng["sky"].random() < config.sky
    background = footage = None
    if pixels and footage_mode:
        from iodvideo.data.synth.footage import Footage

        footage = Footage(config).clip(rng["footage"], n)
    elif pixels:
        background = render_background(rng["background"], plan.scene, world_shape,
                                       look.background_mean, look.texture_sigma,
                                       rng["sky"] if has_sky else None)
    camera: CameraPath = (
        dynamic_path(rng["camera"], n, h, w, margin, config.camera_shift, config.camera_speed)
        if dynamic and margin > 0 else static_path(n)
    )
    factor = plume_factor(plan)
    flatness = float(rng["flatness"].uniform(*config.plume_flatness))
    distractors: list[Drawable] = []
    if plan.target_boxes is None:
        # IOD-Video's share of wide, flat plumes for this scene (band.py); the band's shape
        # comes from its own stream, so the other videos draw their cones as they did
        plume: PlumeField | BoxFittedPlume
        if rng["band"].random() < band_probability(plan.scene):
            params, shape = draw_band_params(rng["band"], h, w, margin, config.flow_speed)
            params = replace(params, flatness=flatness)
            plume = BandField(rng["plume"], params, shape, world_shape, factor, n,
                              config.box_threshold)
        else:
            params = draw_plume_params(
                rng["plume"], h, w, margin, config.plume_length_median,
                config.plume_length_range, config.flow_speed,
            )
            params = replace(params, flatness=flatness)
            plume = PlumeField(rng["plume"], params, world_shape, factor, n,
                               config.box_threshold)
        if not footage_mode:
            if rng["plume_source"].random() < config.plume_source and background is not None:
                draw_source(rng["plume_source"], background, params.source, params.direction,
                            params.source_radius, params.kind, look.texture_sigma, w)
            if rng["workers"].random() < config.workers:
                distractors.append(draw_worker(
                    rng["workers"], params.source, params.direction, params.source_radius, w,
                    look.background_mean, look.texture_sigma, config.warm_people))
    else:
        plume = BoxFittedPlume(
            rng["plume"], plan.target_boxes, camera, world_shape, factor, config.box_threshold,
            config.flow_speed, flatness,
        )
    effects_on = not footage_mode or config.backgrounds_effects
    overlay = None
    if not footage_mode:
        distractors = draw_distractors(
            rng["extra"], plan.scene, world_shape, w, look.background_mean, look.texture_sigma,
            config.distractors, config.warm_people,
        ) + distractors
        # warm, high-contrast stems swaying in place, in front of the rest (outdoor scenes)
        if rng["stems"].random() < config.stems and plan.scene not in INDOOR:
            distractors += draw_stems(rng["stems"], world_shape, w, look.background_mean,
                                      look.texture_sigma)
    if effects_on and h >= 96 and rng["extra"].random() < config.text_overlay:
        overlay = make_text_overlay(rng["extra"], (h, w), config.fps)
    if effects_on:
        probabilities = {name: getattr(config, name) for name in EFFECTS}
        effects = draw_effects({name: seeds[name] for name in EFFECTS}, probabilities, n,
                               (h, w), overlay, shake=not dynamic and plan.target_boxes is None,
                               letterbox=plan.target_boxes is None)
    else:
        effects = Effects(None, None, None, Display())
    sensor = make_sensor(
        rng["sensor"], (h, w), n, look.noise_sigma, config.fixed_pattern_sigma, config.gain_drift,
        effects.shading, effects.agc,
    )
    return VideoModel(look, background, footage, world_shape, camera, factor, plume, sensor,
                      distractors, effects, rng["noise"], rng["annotator"], not effects_on)
