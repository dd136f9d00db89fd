"""Learning-rate schedules stepped every optimiser step.

Why: short CPU runs (a few hundred steps) learn most when the learning rate falls during the
run: at a constant 1e-3 the heatmap loss of unseen SynthIOD clips plateaus and only drops after
the first decay (docs/learning.md §3). A per-step warm-up + cosine decay spends the whole budget
that way, whatever the number of epochs, and needs no milestones to retune when it changes.
"""

from __future__ import annotations

import math
import time

import torch
from torch.optim.lr_scheduler import LRScheduler


def parse_duration(value: str | float | int | None) -> float | None:
    """Seconds of a ``"DD:HH:MM:SS"`` string (Lightning's ``max_time`` format) or a number."""
    if value is None or isinstance(value, int | float):
        return None if value is None else float(value)
    parts = str(value).split(":")
    if len(parts) != 4 or not all(p.strip().isdigit() for p in parts):
        raise ValueError(f"time budget {value!r} is not DD:HH:MM:SS")
    days, hours, minutes, seconds = (int(p) for p in parts)
    return float(((days * 24 + hours) * 60 + minutes) * 60 + seconds)


class WarmupCosineLR(LRScheduler):
    """Linear warm-up from ``warmup_start`` × lr to lr over ``warmup_steps`` (at most a quarter
    of ``total_steps``), then a cosine down to ``final_factor`` × lr at ``total_steps``;
    constant after that.

    ``total_steps`` is filled in by the LightningModule (``trainer.estimated_stepping_batches``)
    when the config leaves it out: the class attribute ``needs_total_steps`` asks for it, and
    ``interval = "step"`` tells Lightning to step it every optimiser step.

    ``time_budget`` (seconds or ``"DD:HH:MM:SS"``; the same value as ``trainer.max_time``)
    makes the cosine advance by whichever runs out first, steps or wall time, so a slow CPU
    that the time cap stops early still ends at the low learning rate instead of being cut
    mid-schedule. Where the steps run out first (a fast machine) the curve is the plain,
    reproducible step schedule. Wall time already spent is kept in the state dict (resume).

    ``clock_start`` (a fraction of the budget) is how much of the budget passes before the
    clock counts at all; after that it covers the rest of the cosine, still reaching the floor
    at the cap. Why: the clock also counts start-up, the warm-up and validation, so on a
    machine that fits its budget it still ran ahead of the steps during the first third of
    `make train` — the learning rate then depended on how fast each step happened to be, and
    two seeded runs differed from the first steps after the warm-up
    (``scripts/repro_check.py``). With the clock held back, such a run follows its steps alone.
    """

    interval = "step"
    needs_total_steps = True

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        total_steps: int,
        warmup_steps: int = 0,
        final_factor: float = 0.01,
        warmup_start: float = 0.1,
        time_budget: str | float | None = None,
        clock_start: float = 0.1,
        last_epoch: int = -1,
    ) -> None:
        if total_steps < 1:
            raise ValueError(f"WarmupCosineLR: total_steps must be >= 1, got {total_steps}")
        if warmup_steps < 0:
            raise ValueError(f"WarmupCosineLR: warmup_steps must be >= 0, got {warmup_steps}")
        if not 0 <= final_factor <= 1 or not 0 < warmup_start <= 1:
            raise ValueError("WarmupCosineLR: final_factor must be in [0, 1] and "
                             "warmup_start in (0, 1]")
        self.total_steps = int(total_steps)
        # at most a quarter of the run: short runs (smoke tests, limit_train_batches) still decay
        self.warmup_steps = min(int(warmup_steps), self.total_steps // 4)
        self.final_factor = float(final_factor)
        self.warmup_start = float(warmup_start)
        if not 0 <= clock_start < 1:
            raise ValueError(f"WarmupCosineLR: clock_start must be in [0, 1), got {clock_start}")
        self.clock_start = float(clock_start)
        self.time_budget_s = parse_duration(time_budget)
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise ValueError(f"WarmupCosineLR: time_budget must be positive, got {time_budget}")
        self.elapsed_before_s = 0.0  # wall time of earlier processes (resumed runs)
        self._started = time.monotonic()
        super().__init__(optimizer, last_epoch)

    def elapsed_s(self) -> float:
        return self.elapsed_before_s + time.monotonic() - self._started

    def state_dict(self) -> dict:
        state = super().state_dict()
        state["elapsed_before_s"] = self.elapsed_s()
        state.pop("_started", None)
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self._started = time.monotonic()

    def factor(self, step: int, elapsed_s: float = 0.0) -> float:
        """Multiplier of the base learning rate after ``step`` optimiser steps and
        ``elapsed_s`` seconds (the latter only counts with a ``time_budget``)."""
        if step < self.warmup_steps:
            return self.warmup_start + (1.0 - self.warmup_start) * step / self.warmup_steps
        span = self.total_steps - self.warmup_steps
        progress = min((step - self.warmup_steps) / span, 1.0)
        if self.time_budget_s is not None:
            spent = elapsed_s / self.time_budget_s
            clock = (spent - self.clock_start) / (1.0 - self.clock_start)
            progress = max(progress, min(max(clock, 0.0), 1.0))
        cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
        return self.final_factor + (1.0 - self.final_factor) * cosine

    def get_lr(self) -> list[float]:
        factor = self.factor(self.last_epoch, self.elapsed_s())
        return [base * factor for base in self.base_lrs]
