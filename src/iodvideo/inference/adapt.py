"""Test-time adaptation without labels: BatchNorm statistics of the target camera's frames.

A detector trained on one kind of footage (SynthIOD, one IR camera) normalises every layer
with the running means and variances of *that* footage. Another camera (other gain, noise,
scene temperature) shifts those statistics, and the normalised features with them. Without
any label, a few seconds of the target camera's own frames are enough to re-estimate them
("AdaBN"): forward clips of those frames with only the BatchNorm layers in training mode and
take the plain (cumulative) average of their batch statistics, as training's precise-BN
recalibration does (:mod:`iodvideo.models.batchnorm_stats`). No weight changes; the model is
in eval mode afterwards; the same frames give bit-identical statistics.

* :func:`adapt_batchnorm`: the library function, over any iterable of preprocessed clips;
* :class:`StreamAdapter`: frames pushed one at a time (the monitor's live source), rolling
  windows of ``frames_per_clip`` frames every ``stride`` frames, finished after ``total``;
* :func:`adapt_runner`: the first ``total`` frames of a frame iterable, through the same
  adapter (``predict``), so a video file and a stream of the same frames agree exactly;
* :class:`AdaptOptions`: the ``adapt.*`` keys of ``conf/predict.yaml`` / ``conf/monitor.yaml``.

Each clip is one forward of batch size one: each clip's statistics weigh the same whatever the
batch, and ``predict`` and ``monitor`` compute the same numbers. ``prior`` > 0 keeps that weight
of the checkpoint's own statistics (mean and variance mixed linearly), for very short
calibrations.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from iodvideo.errors import ConfigError
from iodvideo.models.batchnorm_stats import StatisticsRecompute, tracked_batchnorms

log = logging.getLogger(__name__)

STAT_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


@dataclass(frozen=True)
class AdaptOptions:
    """``adapt.frames`` (the first N frames; 0 = off) or ``adapt.seconds`` (the first N
    seconds at the source's frame rate), the ``stride`` between calibration clips and the
    ``prior`` weight kept of the checkpoint's statistics (0 = the target's only)."""

    frames: int = 0
    seconds: float | None = None
    stride: int = 1
    prior: float = 0.0

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any] | None) -> AdaptOptions:
        values = dict(mapping or {})
        unknown = sorted(set(values) - {"frames", "seconds", "stride", "prior"})
        if unknown:
            raise ConfigError(f"adapt: unknown key(s) {unknown} (frames, seconds, stride, prior)")
        frames = _integer(values.get("frames"), "adapt.frames", 0, default=0)
        stride = _integer(values.get("stride"), "adapt.stride", 1, default=1)
        seconds = values.get("seconds")
        if seconds is not None:
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) \
                    or not math.isfinite(seconds) or seconds < 0:
                raise ConfigError(f"adapt.seconds must be a number >= 0 (or null), got "
                                  f"{seconds!r}")
            if frames > 0 and seconds > 0:
                raise ConfigError("adapt: set adapt.frames or adapt.seconds, not both")
            seconds = float(seconds)
        prior = values.get("prior", 0.0)
        prior = 0.0 if prior is None else prior
        if isinstance(prior, bool) or not isinstance(prior, int | float) \
                or not 0.0 <= prior < 1.0:
            raise ConfigError(f"adapt.prior must be in [0, 1), got {prior!r}")
        return cls(frames, seconds, stride, float(prior))

    @property
    def enabled(self) -> bool:
        return self.frames > 0 or bool(self.seconds)

    def frame_count(self, fps: float) -> int:
        """N: ``frames``, or ``seconds`` at ``fps`` frames a second (rounded); 0 when off."""
        if self.frames > 0:
            return self.frames
        return int(round((self.seconds or 0.0) * fps))


def _integer(value: Any, name: str, low: int, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


@dataclass
class AdaptResult:
    """What an adaptation used: frames read (:func:`adapt_batchnorm`: the clips' frames,
    overlaps counted), clips forwarded, BatchNorm layers re-estimated, the prior weight and
    the seconds it took."""

    frames: int
    clips: int
    layers: int
    prior: float
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "seconds": round(self.seconds, 3)}


def statistics_snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """Copies of every BatchNorm statistic of ``model`` (state-dict names)."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()
            if k.rsplit(".", 1)[-1] in STAT_SUFFIXES}


def restore_statistics(model: nn.Module, snapshot: Mapping[str, torch.Tensor]) -> None:
    """Put back the statistics of :func:`statistics_snapshot` (weights are not touched)."""
    state = model.state_dict()
    with torch.no_grad():
        for key, value in snapshot.items():
            state[key].copy_(value)


class _Estimator:
    """One open recomputation over a detector: clips in, mixed with the prior, closed."""

    def __init__(self, detector: nn.Module, prior: float = 0.0) -> None:
        self.detector = detector
        self.prior = float(prior)
        self.session = StatisticsRecompute(detector)
        if not self.session.norms:
            raise ConfigError("adapt: this detector has no BatchNorm layer with running "
                              "statistics; there is nothing to adapt (set adapt.frames=0)")
        self.device = next(detector.parameters()).device
        self.expected = int(getattr(detector, "frames_per_clip", 0)) or None
        self._before = ([(m.running_mean.clone(), m.running_var.clone())
                         for m in self.session.norms] if self.prior > 0 else None)
        self.began = time.perf_counter()
        self.session.open()

    def add(self, clip: torch.Tensor) -> None:
        batch = clip if clip.dim() == 5 else clip[None]
        if batch.dim() != 5 or (self.expected and batch.shape[1] != self.expected):
            self.abort()
            raise ConfigError(f"adapt: clips must be (T, 3, S, S) or (B, T, 3, S, S) with "
                              f"T={self.expected}, got {tuple(clip.shape)}")
        try:
            self.session.step(self.detector, batch.to(self.device))
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        self.session.close(keep=False)
        self.detector.eval()

    def finish(self, frames: int) -> AdaptResult:
        clips = self.session.close(keep=True)
        self.detector.eval()
        if clips == 0:
            raise ConfigError("adapt: no clip to estimate the statistics from")
        if self._before is not None:
            with torch.no_grad():
                for m, (mean, var) in zip(self.session.norms, self._before, strict=True):
                    m.running_mean.mul_(1 - self.prior).add_(mean, alpha=self.prior)
                    m.running_var.mul_(1 - self.prior).add_(var, alpha=self.prior)
        return AdaptResult(frames, clips, len(self.session.norms), self.prior,
                           time.perf_counter() - self.began)


def adapt_batchnorm(detector: nn.Module, clips: Iterable[torch.Tensor],
                    prior: float = 0.0) -> AdaptResult:
    """Re-estimate every BatchNorm's running mean/var of ``detector`` from ``clips``.

    ``clips``: preprocessed clips as the runner makes them, ``(T, 3, S, S)`` (one forward
    each) or ``(B, T, 3, S, S)``. The statistics become the plain average over the forwards
    (then mixed with ``prior`` × the old ones); weights and other buffers are untouched, and
    ``detector`` is in eval mode afterwards. No clip, a clip of the
    wrong shape or a detector without BatchNorm is a :class:`ConfigError` (statistics left as
    they were).
    """
    if not 0.0 <= prior < 1.0:
        raise ConfigError(f"adapt.prior must be in [0, 1), got {prior!r}")
    estimator = _Estimator(detector, prior)
    frames = 0
    try:
        for clip in clips:
            estimator.add(clip)
            frames += int(clip.shape[-4]) * (int(clip.shape[0]) if clip.dim() == 5 else 1)
    except BaseException:
        estimator.abort()
        raise
    return estimator.finish(frames)


class StreamAdapter:
    """Adaptation on frames pushed one at a time: the first ``total`` frames of a stream.

    Each frame is preprocessed with ``preprocess`` (the runner's: as in training); every
    ``stride``-th complete window of ``frames_per_clip`` consecutive frames is one forward.
    :meth:`push` returns True on the frame that completes the calibration (``result`` then
    holds what was used); :meth:`end` closes a stream that ended early. ``on_progress`` is
    called with the adapter after every frame.
    """

    def __init__(self, detector: nn.Module, preprocess: Callable[[np.ndarray], torch.Tensor],
                 total: int, stride: int = 1, prior: float = 0.0,
                 on_progress: Callable[[StreamAdapter], None] | None = None) -> None:
        self.frames_per_clip = int(detector.frames_per_clip)
        if isinstance(total, bool) or total < 0:
            raise ConfigError(f"adapt: the number of frames must be >= 0, got {total}")
        if total < self.frames_per_clip:
            raise ConfigError(f"adapt: {total} frame(s) are fewer than one clip "
                              f"({self.frames_per_clip} frames); calibrate on at least "
                              f"{self.frames_per_clip}")
        if stride < 1:
            raise ConfigError(f"adapt.stride must be >= 1, got {stride}")
        if not tracked_batchnorms(detector):
            raise ConfigError("adapt: this detector has no BatchNorm layer with running "
                              "statistics; there is nothing to adapt (set adapt.frames=0)")
        self.detector, self.preprocess = detector, preprocess
        self.total, self.stride, self.prior = int(total), int(stride), float(prior)
        self.on_progress = on_progress
        self.seen = 0
        self.result: AdaptResult | None = None
        self.abandoned = False  # the stream ended before one clip: statistics kept
        self._window: deque[torch.Tensor] = deque(maxlen=self.frames_per_clip)
        self._estimator: _Estimator | None = None

    @property
    def done(self) -> bool:
        return self.result is not None

    def status(self) -> dict[str, Any]:
        """For the monitor's /api/status: progress while calibrating, the result after."""
        if self.result is not None:
            return {"state": "done", "frames": self.result.frames, "total": self.total,
                    "clips": self.result.clips, "seconds": round(self.result.seconds, 3),
                    "message": f"calibrated on {self.result.frames} frames "
                               f"({self.result.clips} clips)"}
        if self.abandoned:
            return {"state": "abandoned", "frames": self.seen, "total": self.total,
                    "message": f"calibration abandoned after {self.seen} frames (fewer than "
                               f"one clip): the checkpoint's statistics are used"}
        return {"state": "calibrating", "frames": self.seen, "total": self.total,
                "message": f"calibrating ({self.seen}/{self.total} frames)"}

    def push(self, frame: np.ndarray) -> bool:
        if self.done:
            raise RuntimeError("the calibration is over")
        if self._estimator is None:
            self._estimator = _Estimator(self.detector, self.prior)
        self.seen += 1
        try:
            self._window.append(self.preprocess(frame[None])[0])
            if len(self._window) == self.frames_per_clip \
                    and (self.seen - self.frames_per_clip) % self.stride == 0:
                self._estimator.add(torch.stack(list(self._window)))
        except BaseException:
            self.abort()
            raise
        if self.seen >= self.total:
            self._finish()
        if self.on_progress is not None:
            self.on_progress(self)
        return self.done

    def _finish(self) -> None:
        assert self._estimator is not None
        self.result = self._estimator.finish(self.seen)
        self._window.clear()
        self._estimator = None

    def end(self) -> AdaptResult | None:
        """The stream ended before ``total`` frames: keep what at least one clip gave
        (a warning), else leave the statistics as they were (a warning). Returns the result."""
        if self.done or self._estimator is None:
            return self.result
        if self.seen < self.frames_per_clip:
            log.warning("adapt: the source ended after %d frame(s), fewer than one clip (%d); "
                        "the checkpoint's statistics are kept", self.seen, self.frames_per_clip)
            self.abort()
            self.abandoned = True
            if self.on_progress is not None:
                self.on_progress(self)
            return None
        log.warning("adapt: the source ended after %d of %d calibration frames; using them",
                    self.seen, self.total)
        self._finish()
        if self.on_progress is not None:
            self.on_progress(self)
        return self.result

    def abort(self) -> None:
        """Leave the statistics as they were (an error, an interrupted run)."""
        if self._estimator is not None:
            self._estimator.abort()
            self._estimator = None
        self._window.clear()


def adapt_runner(runner: Any, frames: Iterable[np.ndarray], total: int, stride: int = 1,
                 prior: float = 0.0) -> AdaptResult:
    """Adapt a :class:`~iodvideo.inference.stream.runner.ClipRunner`'s detector on the first
    ``total`` of ``frames`` (raw BGR frames, preprocessed as the runner does; fewer if they
    end sooner, but at least one clip's worth, else :class:`ConfigError`) through
    :class:`StreamAdapter`."""
    adapter = StreamAdapter(runner.detector, runner.preprocess, total, stride, prior)
    stream = iter(frames)
    try:
        for frame in stream:
            if adapter.push(frame):
                break
    except BaseException:
        adapter.abort()
        raise
    finally:
        close = getattr(stream, "close", None)
        if close is not None:
            close()  # a generator over a decoder: release it now
    if adapter.result is None:
        if adapter.seen < adapter.frames_per_clip:
            adapter.abort()
            raise ConfigError(f"adapt: the input has {adapter.seen} frame(s), fewer than one "
                              f"clip ({adapter.frames_per_clip} frames)")
        return adapter.end()  # type: ignore[return-value]
    return adapter.result
