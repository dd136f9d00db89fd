"""Recomputing BatchNorm running statistics with the current weights ("precise BN").

A BatchNorm in eval mode normalises with its running mean / variance. Two callers recompute
them from forward passes: training before every validation
(:mod:`iodvideo.training.bn_calibration`, the training data) and test-time adaptation
(:mod:`iodvideo.inference.adapt`, the target camera's own unlabelled frames). Both want the
same thing: every tracked BatchNorm's running statistics replaced by the plain (cumulative)
average of the batch statistics of the forwards made, nothing else changed.
:class:`StatisticsRecompute` is that, as a session a caller feeds one forward at a time (a
live stream) or a loop (:func:`recalibrate_batchnorm`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

BATCHNORMS = (nn.modules.batchnorm._BatchNorm,)


def tracked_batchnorms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    """The BatchNorm layers of ``model`` that keep running statistics, in module order."""
    return [m for m in model.modules() if isinstance(m, BATCHNORMS) and m.track_running_stats]


class StatisticsRecompute:
    """While open, every tracked BatchNorm of ``model`` is in training mode with reset
    statistics and cumulative averaging (``momentum=None``: every forward weighs the same);
    nothing else changes mode (dropout etc. stay as they are). :meth:`close` restores each
    layer's mode and momentum; the old statistics come back when no forward was made or when
    ``keep=False`` (an error, an interrupted stream). Usable as a context manager (an
    exception inside restores the old statistics)."""

    def __init__(self, model: nn.Module) -> None:
        self.norms = tracked_batchnorms(model)
        self.count = 0
        self._saved: list[tuple[Any, ...]] | None = None

    @property
    def is_open(self) -> bool:
        return self._saved is not None

    def open(self) -> StatisticsRecompute:
        if self._saved is not None:
            raise RuntimeError("the recompute session is already open")
        self._saved = [(m, m.training, m.momentum, m.running_mean.clone(),
                        m.running_var.clone(), m.num_batches_tracked.clone()) for m in self.norms]
        self.count = 0
        for m in self.norms:
            m.reset_running_stats()
            m.momentum = None
            m.train()
        return self

    @torch.no_grad()
    def step(self, forward: Callable[[Any], object], batch: Any) -> None:
        """One forward of ``batch``: its batch statistics join the averages."""
        if self._saved is None:
            raise RuntimeError("open the recompute session first")
        forward(batch)
        self.count += 1

    def close(self, keep: bool = True) -> int:
        """Restore modes and momenta; returns the forwards whose statistics were kept."""
        if self._saved is None:
            return 0
        restore = not keep or self.count == 0
        for m, training, momentum, mean, var, tracked in self._saved:
            m.train(training)
            m.momentum = momentum
            if restore:
                m.running_mean.copy_(mean)
                m.running_var.copy_(var)
                m.num_batches_tracked.copy_(tracked)
        self._saved = None
        return 0 if restore else self.count

    def __enter__(self) -> StatisticsRecompute:
        return self.open()

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.close(keep=exc_type is None)


def recalibrate_batchnorm(
    model: nn.Module, batches: Iterable[Any], forward: Callable[[Any], object]
) -> int:
    """Replace every BatchNorm's running mean/var by the plain average of the batch
    statistics that ``forward(batch)`` produces over ``batches`` with the current weights.

    Only the BatchNorm layers are switched to training mode (dropout etc. stay as they are);
    each layer's mode and momentum are restored afterwards. Returns the batches used (0 leaves
    the statistics untouched, as does an exception).
    """
    session = StatisticsRecompute(model)
    if not session.norms:
        return 0
    with session:
        for batch in batches:
            session.step(forward, batch)
    return session.count
