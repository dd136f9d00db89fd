"""The gas plume: a turbulent, advected density field that is only visible as it moves.

Model (world coordinates, computed on a grid ``factor`` times coarser than the pixels):

* an *envelope* - the time-averaged plume of a continuous leak: a cone from the source along
  the wind direction, Gaussian across it, widening linearly and fading exponentially with
  distance so that it reaches ``box_threshold`` exactly at the plume length. The wind
  direction meanders and the length breathes slowly, so the plume sways and grows/shrinks;
* *turbulence* - two tileable multi-octave noise layers advected downwind at different
  speeds (one also drifts sideways), so the texture inside the envelope keeps changing shape
  and flows away from the source; its relative strength grows with distance (puffs break up);
* a puffing source strength.

``density = strength(t) * profile(envelope) * clip(fill + g(d) * turbulence, 0, 2)``. The box is
the tight box of ``envelope > box_threshold`` (what an annotator sees as "the gas region"), so it
moves smoothly while the texture inside it flickers - like the real annotations. ``profile`` is
the envelope itself for a plume whose gas thins out steadily (flatness 0, the density at the box
edge is ``box_threshold`` of the source's); a flatter plume (flatness up to 1) is about as
faint all over its box and falls off faster outside it, like the wide, uniformly faint plumes
of real footage, whose visible extent is the whole box and not a bright core near the source.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from iodvideo.data.synth.noise import periodic_noise, smooth_series

SOURCE_KINDS = ("valve", "flange", "pipe", "chimney", "cylinder")
LOG_FLOOR = -60.0  # envelopes are floored at exp(LOG_FLOOR) (~1e-26): invisible, not denormal


@dataclass(frozen=True)
class PlumeParams:
    """One video's plume, in full-resolution world pixels and frames."""

    source: tuple[float, float]
    direction: float  # radians, image coordinates (y down): -pi/2 blows upwards
    length: float  # distance at which the envelope falls to the box threshold
    source_radius: float
    spread: float  # sigma growth per pixel downwind
    speed: float  # advection, px / frame
    meander: float  # radians of wind direction wander
    breathing: float  # relative length wander
    puffing: float  # relative source strength wander
    turbulence: float  # relative density modulation at the source
    fill: float  # mean density level under the turbulence (< 1: puffs with gaps)
    kind: str
    flatness: float = 0.0  # 0: density follows the envelope; 1: flat inside the box


def draw_plume_params(
    rng: np.random.Generator,
    height: int,
    width: int,
    margin: int,
    length_median: float,
    length_range: tuple[float, float],
    speed_range: tuple[float, float],
) -> PlumeParams:
    """Random plume whose source sits inside the frame and whose body mostly fits it."""
    kind = str(rng.choice(SOURCE_KINDS))
    frac = float(np.clip(length_median * math.exp(0.7 * rng.standard_normal()), *length_range))
    length = frac * width
    # buoyant gas often rises (chimneys always do); wind and jets send the rest any way
    # most real plumes are carried sideways by the wind (IOD-Video's boxes are wider than
    # tall: median 82 x 69 px at 320 x 240)
    if kind == "chimney" or rng.random() < 0.1:
        direction = -math.pi / 2 + rng.normal(0.0, 0.5)
    elif rng.random() < 0.75:
        direction = float(rng.choice([0.0, math.pi])) + rng.normal(0.0, 0.35)
    else:
        direction = rng.uniform(-math.pi, math.pi)
    spread = rng.uniform(0.2, 0.5)
    radius = max(1.5, length * rng.uniform(0.08, 0.16))
    # choose the plume's middle inside the frame, then step back to the source
    ux, uy = math.cos(direction), math.sin(direction)
    cx = rng.uniform(0.25, 0.75) * width
    cy = rng.uniform(0.3, 0.75) * height
    sx = float(np.clip(cx - 0.45 * length * ux, 0.08 * width, 0.92 * width))
    sy = float(np.clip(cy - 0.45 * length * uy, 0.08 * height, 0.92 * height))
    return PlumeParams(
        source=(sx + margin, sy + margin), direction=direction, length=length,
        source_radius=radius, spread=spread, speed=rng.uniform(*speed_range),
        meander=rng.uniform(0.03, 0.2), breathing=rng.uniform(0.02, 0.1),
        puffing=rng.uniform(0.05, 0.25), turbulence=rng.uniform(0.9, 1.3),
        fill=rng.uniform(0.5, 0.9), kind=kind,
    )


class PlumeField:
    """Evaluates one plume's envelope and density per frame on a coarse world grid."""

    def __init__(
        self,
        rng: np.random.Generator,
        params: PlumeParams,
        world_shape: tuple[int, int],
        factor: int,
        nframes: int,
        threshold: float,
    ) -> None:
        self.params = params
        self.factor = factor
        self.threshold = threshold
        gh = -(-world_shape[0] // factor)
        gw = -(-world_shape[1] // factor)
        self.grid_shape = (gh, gw)
        # cell centres in full-resolution world pixels
        ys = (np.arange(gh, dtype=np.float32) + 0.5) * factor - 0.5
        xs = (np.arange(gw, dtype=np.float32) + 0.5) * factor - 0.5
        self._dx = xs[None, :] - np.float32(params.source[0])
        self._dy = ys[:, None] - np.float32(params.source[1])
        period = rng.uniform(40.0, 100.0)
        self._direction = params.direction + params.meander * smooth_series(rng, nframes, period)
        self._length = params.length * (
            1.0 + params.breathing * smooth_series(rng, nframes, rng.uniform(30.0, 80.0))
        )
        self._strength = 1.0 + params.puffing * smooth_series(rng, nframes, rng.uniform(8, 25))
        self._turbulence = Turbulence(
            rng, self.grid_shape, self._puff_cells(), params.direction, params.speed / factor
        )

    def _puff_cells(self) -> float:
        """Size of the turbulent puffs in coarse cells: about a ninth of the plume."""
        return max(self.params.length / 9.0 / self.factor, 2.0)

    def _distance(self, t: int, along: np.ndarray) -> np.ndarray:
        """Distance downwind as a fraction of the plume length (turbulence grows with it)."""
        return np.clip(along / np.float32(self._length[t]), 0.0, 1.5)

    def source_point(self) -> tuple[float, float]:
        """World position of the leak (full-resolution pixels)."""
        return self.params.source

    def _axes(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        theta = float(self._direction[t])
        c, s = np.float32(math.cos(theta)), np.float32(math.sin(theta))
        return self._dx * c + self._dy * s, -self._dx * s + self._dy * c

    def envelope(self, t: int) -> np.ndarray:
        """Time-averaged plume shape at frame ``t`` (1 at the source), coarse grid, float32."""
        p = self.params
        along, across = self._axes(t)
        ahead = np.maximum(along, 0.0)
        sigma = np.float32(p.source_radius) + np.float32(p.spread) * ahead
        decay = np.float32(math.log(self.threshold) / float(self._length[t]))
        behind = np.minimum(along, 0.0) / np.float32(p.source_radius)
        log_env = decay * ahead - 0.5 * (across / sigma) ** 2 - 0.5 * behind * behind
        # floored at exp(-60): no denormal floats downstream (they are slow to compute with)
        return np.exp(np.maximum(log_env, np.float32(LOG_FLOOR))).astype(np.float32)

    def density(self, t: int, envelope: np.ndarray) -> np.ndarray:
        """Gas density at frame ``t`` on the coarse grid (about 0..2, 1 = source mean)."""
        p = self.params
        along, _ = self._axes(t)
        gain = np.float32(p.turbulence) * (0.6 + 0.6 * self._distance(t, along))
        modulation = np.clip(p.fill + gain * self._turbulence.sample(t), 0.0, 2.0)
        shaped = profile(envelope, self.threshold, p.flatness)
        return (np.float32(self._strength[t]) * shaped * modulation).astype(np.float32)


def profile(envelope: np.ndarray, threshold: float, flatness: float) -> np.ndarray:
    """Gas amount for an envelope value: ``e^(1-f)`` inside the box (``e > threshold``),
    continued by ``threshold^(1-f) (e / threshold)^(1+2f)`` outside, divided by ``1 + 0.9 f``
    (the same amount of gas in the box as ``f = 0``, spread more evenly); ``f = 0`` is ``e``."""
    if flatness <= 0.0:
        return envelope
    log_env = np.log(np.maximum(envelope, np.float32(math.exp(LOG_FLOOR))))
    below = np.minimum(log_env - np.float32(math.log(threshold)), 0.0)
    shaped = np.float32(1.0 - flatness) * log_env + np.float32(3.0 * flatness) * below
    shaped -= np.float32(math.log1p(0.9 * flatness))
    return np.exp(np.maximum(shaped, np.float32(LOG_FLOOR))).astype(np.float32)


class Turbulence:
    """Tileable noise advected downwind that also "boils" (changes shape in place).

    Two independent layers are mixed as ``cos(phi) A + sin(phi) B`` with the phase ``phi``
    advancing every frame: the mixture keeps unit variance but decorrelates at a chosen rate,
    so the gas flickers even where the wind is slow - the temporal signature that separates
    gas from rigid moving objects. Layer B drifts at a different speed and sideways, so the
    pattern also shears as it flows.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        grid_shape: tuple[int, int],
        feature_cells: float,
        angle: float,
        speed: float,
    ) -> None:
        self.grid_shape = grid_shape
        size = int(2 ** math.ceil(math.log2(max(*grid_shape, 32) + 1)))
        scales = [max(feature_cells, 2.5), max(feature_cells / 2.5, 1.5)]
        self._layers = [periodic_noise(rng, (size, size), scales) for _ in range(2)]
        cross = rng.uniform(-0.3, 0.3)
        self._velocity = [(1.0, 0.0), (rng.uniform(0.6, 0.9), cross)]  # (down, cross) factors
        self._angle = angle
        self._speed = speed
        self._boil = rng.uniform(0.35, 0.7)  # radians of phase per frame
        self._phase0 = rng.uniform(0.0, 2.0 * np.pi)

    def sample(self, t: int) -> np.ndarray:
        """Zero-mean, unit-std texture at frame ``t`` on the coarse grid (float32)."""
        gh, gw = self.grid_shape
        travel = self._speed * t
        ca, sa = math.cos(self._angle), math.sin(self._angle)
        phase = self._phase0 + self._boil * t
        out = np.zeros((gh, gw), dtype=np.float32)
        for layer, (down, cross), weight in zip(
            self._layers, self._velocity, (math.cos(phase), math.sin(phase)), strict=True
        ):
            shift_x = travel * (down * ca - cross * sa)
            shift_y = travel * (down * sa + cross * ca)
            m = np.array([[1.0, 0.0, -shift_x], [0.0, 1.0, -shift_y]])
            out += np.float32(weight) * cv2.warpAffine(
                layer, m, (gw, gh), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_WRAP,
            )
        return out


def envelope_box(
    envelope: np.ndarray, threshold: float, factor: int
) -> tuple[float, float, float, float] | None:
    """Tight world-pixel box (x1, y1, x2, y2, inclusive) of ``envelope > threshold``."""
    mask = envelope > threshold
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    x1 = cols[0] * factor
    x2 = (cols[-1] + 1) * factor - 1
    y1 = rows[0] * factor
    y2 = (rows[-1] + 1) * factor - 1
    return float(x1), float(y1), float(x2), float(y2)
