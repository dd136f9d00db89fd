"""Wide, flat plumes: a gas layer that hugs the ground or sits under a stable layer of air and
spreads sideways from the leak, drifting with the wind.

The cone-shaped plume of ``plume.py`` can only make boxes up to about 2.3 : 1 (its width grows
with the distance from the source). IOD-Video has a tail of wider boxes: 9.8 % of its 141,017
boxes are wider than 2.5 : 1 and 4.9 % wider than 3 : 1, and 47 of its 600 videos (7.8 %)
have a median box wider than 2.5 : 1 (a heavy gas slumping over the ground, a plume trapped
under an inversion, gas carried flat along a ridge). Such a video gets a *band* here: the
same kind of per-video random draw as any other plume, with its box shape taken from the
real annotation statistics, never from a particular clip:

* whether a video's plume is a band: the fraction of IOD-Video videos of the same scene whose
  median box is wider than ``BAND_ASPECT_MIN`` (``BAND_VIDEOS`` / the scene's video count);
* its target box: aspect and size (``sqrt(w h)``, px at 320 x 240) drawn independently (their
  correlation is 0.00 among those 47 videos) from the deciles of those videos' median boxes
  (``BAND_ASPECT``, ``BAND_SIZE``);
* the layer laid into that box: it reaches a little upwind of the source (a dense gas also
  slumps against the wind) and mostly downwind, about as thick all along (slightly thinner or
  thicker downwind), with a profile across it between Gaussian-like and flat-topped
  (``|across / thickness| ** p``, ``p`` 2-4) and a smooth fall-off along it;
* its density scaled (``BAND_GAIN``) so that the mean gas over its box is that of a cone plume
  of the same contrast: a band is not easier to see than a cone.

In the scenes' mix this puts 7.8 % of the videos into bands (0 % of valve videos, 27 % of
cylinder videos), and SynthIOD's fraction of boxes wider than 2.5 : 1 goes from 2.9 % to
7.7-11.5 % (seeds 0-7, 240 videos each; IOD-Video 9.8 %).

As for every plume, the box is the tight box of ``envelope > box_threshold``: the rendered
layer fills it (every column and row of the box, most of its area), and the annotation
follows it as it breathes and meanders. The same advected, boiling turbulence as the cone
(carried along the layer by the wind) makes the gas visible through its motion.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from iodvideo.data.synth.layout import SCENE_COUNTS
from iodvideo.data.synth.noise import smooth_series
from iodvideo.data.synth.plume import LOG_FLOOR, PlumeField, PlumeParams

BAND_ASPECT_MIN = 2.5
# IOD-Video (TrueLeakedGas.pkl, all 600 videos): videos whose median box aspect (w / h) is
# above BAND_ASPECT_MIN, per scene (47 in all; no valve video has one)
BAND_VIDEOS = {"cylinder": 13, "experiment": 11, "factory": 9, "others": 5, "wild": 5,
               "pipeline": 3, "flange": 1, "valve": 0}
# deciles (0, 10, ..., 100 %) of those 47 videos' median box aspect and median sqrt(w h)
# (px at 320 x 240); tests/data/test_synth_bands.py recomputes them from the real pickle
BAND_ASPECT = (2.533, 2.577, 2.615, 2.705, 2.835, 2.92, 3.07, 3.253, 3.415, 3.778, 5.231)
BAND_SIZE = (21.57, 29.69, 34.78, 49.9, 55.07, 57.69, 67.79, 79.32, 98.87, 119.63, 149.33)
BAND_SOURCES = ("valve", "flange", "pipe", "cylinder")  # a chimney's gas rises
# a band fills its box more evenly than a cone fills its own (mean envelope in the box 0.55 vs
# 0.39, medians over SynthIOD plumes): its density is scaled so that the mean gas over its
# box (0.29 x contrast for both), and with it how visible the box is, stays a cone's
BAND_GAIN = 0.75


def band_probability(scene: str) -> float:
    """Chance that a video of ``scene`` has a band plume: IOD-Video's share for that scene."""
    return BAND_VIDEOS.get(scene, 0) / SCENE_COUNTS.get(scene, 1)


@dataclass(frozen=True)
class BandShape:
    """The cross-section of a band plume (full-resolution world pixels)."""

    upwind: float  # how far the layer reaches against the wind from the source
    thickness: float  # half thickness at the source
    growth: float  # relative change of the half thickness from the source to the far end
    sharpness: float  # exponent of the profile across the layer (higher: flatter top)


def _height_factor(growth: float, sharpness: float) -> float:
    """Half height of ``envelope > threshold`` in units of the source half thickness."""
    u = np.linspace(0.0, 1.0, 401)
    return float(np.max((1.0 + growth * u) * (1.0 - u * u) ** (1.0 / sharpness)))


def draw_band_params(
    rng: np.random.Generator,
    height: int,
    width: int,
    margin: int,
    speed_range: tuple[float, float],
) -> tuple[PlumeParams, BandShape]:
    """A band plume whose box (aspect and size drawn from ``BAND_ASPECT`` / ``BAND_SIZE``)
    lies inside the frame; its wind blows left or right, tilted by a degree or two."""
    deciles = np.linspace(0.0, 1.0, len(BAND_ASPECT))
    aspect = float(np.interp(rng.random(), deciles, BAND_ASPECT))
    # sizes scale with the frame's area (the real ones are at 320 x 240)
    size = float(np.interp(rng.random(), deciles, BAND_SIZE)) * math.sqrt(
        height * width / (240.0 * 320.0))
    box_w = min(size * math.sqrt(aspect), 0.9 * width)
    box_h = max(box_w / aspect, 3.0)
    growth = rng.uniform(-0.3, 0.5)
    sharpness = rng.uniform(2.0, 4.0)
    half = 0.5 * box_h / _height_factor(growth, sharpness)
    upwind = max(rng.uniform(0.0, 0.35) * box_w, half)
    length = box_w - upwind  # downwind reach, where the envelope falls to the threshold
    wind = 0.0 if rng.random() < 0.5 else math.pi
    direction = wind + rng.normal(0.0, 0.02)
    room = 0.5 * box_w + 0.02 * width
    cx = rng.uniform(room, width - room) if width - room > room else 0.5 * width
    cy = rng.uniform(0.25, 0.8) * height
    left = cx - 0.5 * box_w
    sx = left + upwind if wind == 0.0 else left + box_w - upwind
    params = PlumeParams(
        source=(float(sx) + margin, float(cy) + margin), direction=float(direction),
        length=float(length), source_radius=float(max(half, 1.5)), spread=0.0,
        speed=rng.uniform(*speed_range), meander=rng.uniform(0.005, 0.03),
        breathing=rng.uniform(0.02, 0.08), puffing=rng.uniform(0.05, 0.25),
        turbulence=rng.uniform(0.9, 1.3), fill=rng.uniform(0.5, 0.9),
        kind=str(rng.choice(BAND_SOURCES)),
    )
    return params, BandShape(float(upwind), float(half), float(growth), float(sharpness))


class BandField(PlumeField):
    """A band plume's envelope and density per frame on the coarse world grid."""

    def __init__(
        self,
        rng: np.random.Generator,
        params: PlumeParams,
        band: BandShape,
        world_shape: tuple[int, int],
        factor: int,
        nframes: int,
        threshold: float,
    ) -> None:
        self.band = band
        super().__init__(rng, params, world_shape, factor, nframes, threshold)
        # the layer's thickness breathes on its own (the box height changes, not only its width)
        self._thickness = band.thickness * (
            1.0 + params.breathing * smooth_series(rng, nframes, rng.uniform(30.0, 80.0)))

    def _puff_cells(self) -> float:
        # puffs of about the layer's thickness: a thin band is not broken up by wide eddies
        size = min(self.params.length / 9.0, 1.2 * self.band.thickness)
        return max(size / self.factor, 2.0)

    def _reach(self, t: int, along: np.ndarray) -> np.ndarray:
        """Signed position along the layer: 0 at the source, 1 at its downwind end, -1 upwind."""
        return np.where(along >= 0, along / np.float32(self._length[t]),
                        along / np.float32(self.band.upwind)).astype(np.float32)

    def envelope(self, t: int) -> np.ndarray:
        band = self.band
        along, across = self._axes(t)
        u = self._reach(t, along)
        half = np.float32(self._thickness[t]) * (
            1.0 + np.float32(band.growth) * np.clip(u, 0.0, 1.0))
        q = u * u + np.abs(across / half) ** np.float32(band.sharpness)
        log_env = np.maximum(np.float32(math.log(self.threshold)) * q, np.float32(LOG_FLOOR))
        return np.exp(log_env).astype(np.float32)

    def _distance(self, t: int, along: np.ndarray) -> np.ndarray:
        return np.clip(np.abs(self._reach(t, along)), 0.0, 1.5)

    def density(self, t: int, envelope: np.ndarray) -> np.ndarray:
        return super().density(t, envelope) * np.float32(BAND_GAIN)
