"""WarmupCosineLR: warm-up, cosine, floor; Lightning steps it per batch with the run's length."""

from __future__ import annotations

import functools
import math

import pytest
import torch

from iodvideo.training.schedules import WarmupCosineLR


def _lrs(steps: int, **kwargs) -> list[float]:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = WarmupCosineLR(optimizer, **kwargs)
    out = []
    for _ in range(steps):
        out.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return out


def test_warmup_then_cosine_to_the_floor() -> None:
    lrs = _lrs(14, total_steps=12, warmup_steps=2, final_factor=0.01, warmup_start=0.1)
    assert lrs[:3] == pytest.approx([0.1, 0.55, 1.0])
    # halfway through the cosine part (step 2 + 5): the mean of peak and floor
    assert lrs[7] == pytest.approx(0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert all(a >= b for a, b in zip(lrs[2:], lrs[3:], strict=False))  # never rises again
    assert lrs[12] == pytest.approx(0.01) and lrs[13] == pytest.approx(0.01)


def test_state_dict_resumes_the_same_curve() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    first = WarmupCosineLR(optimizer, total_steps=10, warmup_steps=3)
    for _ in range(5):
        optimizer.step()
        first.step()
    state = first.state_dict()
    optimizer2 = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    second = WarmupCosineLR(optimizer2, total_steps=10, warmup_steps=3)
    second.load_state_dict(state)
    optimizer2.step()
    second.step()
    optimizer.step()
    first.step()
    assert optimizer2.param_groups[0]["lr"] == pytest.approx(optimizer.param_groups[0]["lr"])


def test_warmup_of_a_short_run_is_cut_to_a_quarter_so_it_still_decays() -> None:
    lrs = _lrs(8, total_steps=8, warmup_steps=30, final_factor=0.0, warmup_start=0.5)
    assert lrs[:4] == pytest.approx([0.5, 0.75, 1.0, 0.5 * (1 + math.cos(math.pi / 6))])
    assert lrs[-1] < 0.1


@pytest.mark.parametrize("kwargs", [dict(total_steps=0), dict(total_steps=5, warmup_steps=-1),
                                    dict(total_steps=5, final_factor=2.0),
                                    dict(total_steps=5, time_budget="12 minutes")])
def test_bad_settings_are_refused(kwargs: dict) -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    with pytest.raises(ValueError, match="WarmupCosineLR|DD:HH:MM:SS"):
        WarmupCosineLR(optimizer, **kwargs)


def test_time_budget_advances_the_cosine_when_the_clock_runs_out_first() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = WarmupCosineLR(optimizer, total_steps=100, final_factor=0.0,
                               time_budget="00:00:01:00", clock_start=0.0)
    # after 1 of 100 steps but half of the minute: the cosine is half way, not at 1 %
    assert scheduler.factor(1, elapsed_s=30.0) == pytest.approx(0.5)
    assert scheduler.factor(1, elapsed_s=90.0) == pytest.approx(0.0)  # budget spent: floor
    assert scheduler.factor(50, elapsed_s=1.0) == pytest.approx(0.5)  # steps lead: steps count
    state = scheduler.state_dict()
    assert state["elapsed_before_s"] >= 0 and "_started" not in state


def test_the_clock_counts_only_after_clock_start_and_still_ends_at_the_cap() -> None:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = WarmupCosineLR(optimizer, total_steps=101, final_factor=0.0,
                               time_budget=100.0, clock_start=0.2)
    steps_only = WarmupCosineLR(optimizer, total_steps=101, final_factor=0.0)
    # a machine that fits its budget: 10 % of the steps in 19 % of the time -> the steps alone
    assert scheduler.factor(10, elapsed_s=19.0) == steps_only.factor(10)
    # the clock takes over once it leads: 60 % of the budget = half of the clock's span
    assert scheduler.factor(10, elapsed_s=60.0) == pytest.approx(0.5)
    assert scheduler.factor(10, elapsed_s=100.0) == pytest.approx(0.0)  # the cap: the floor
    with pytest.raises(ValueError, match="clock_start"):
        WarmupCosineLR(optimizer, total_steps=10, time_budget=10.0, clock_start=1.0)


def test_lightning_module_fills_in_the_run_length() -> None:
    from types import SimpleNamespace

    from iodvideo.training.lightning_module import IODLitModule

    module = IODLitModule(
        detector=torch.nn.Linear(1, 1), criterion=torch.nn.Identity(),
        optimizer=functools.partial(torch.optim.Adam, lr=1e-3),
        scheduler=functools.partial(WarmupCosineLR, warmup_steps=4),
    )
    module._trainer = SimpleNamespace(estimated_stepping_batches=40)  # what Lightning computes
    config = module.configure_optimizers()
    schedule = config["lr_scheduler"]
    assert schedule["interval"] == "step"
    assert schedule["scheduler"].total_steps == 40
