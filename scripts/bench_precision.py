"""Whole training steps (backbone, neck, heads, loss, Adam) in fp32, channels_last, bf16 and
channels_last + bf16; the convolutions' share of the default step and their own speed-up
(the ceiling the whole step cannot beat by much); and the loss curves of fp32 vs
channels_last + bf16 from the same inits, next to the spread between fp32 runs from different
inits.

    .venv/bin/python scripts/bench_precision.py [--backbones resnet tsm ...] [--steps 2]
        [--rounds 3] [--curve-steps 20] [--curve-seeds 3] [--input-size 128] [--batch 8]

Uses the training config as composed by ``python -m iodvideo.train`` (CPU-scale model) and
real SynthIOD clips from ``data/synth`` (generated if absent). bf16 is CPU autocast, what
``trainer.precision=bf16-mixed`` runs; channels_last is ``channels_last=true``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import statistics
import time

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import get_class, instantiate
from torch.profiler import ProfilerActivity, profile

import iodvideo.models.temporal  # noqa: F401  (registers the backbones)
from iodvideo.allocator import keep_freed_memory
from iodvideo.config import CONFIG_DIR
from iodvideo.hardware import bench_header, choose_precision
from iodvideo.models.memory_format import to_channels_last
from iodvideo.models.registry import BACKBONES

MODES = {
    "fp32": (False, False),
    "channels_last": (True, False),
    "bf16": (False, True),
    "channels_last+bf16": (True, True),
}


def compose_cfg(backbone: str, input_size: int, batch: int):
    overrides = [
        f"backbone={backbone}", f"data.input_size={input_size}", f"data.batch_size={batch}",
        "data.num_workers=0",
    ]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=overrides)


def batches(cfg, count: int) -> list[dict[str, torch.Tensor]]:
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()
    backbone = get_class(cfg.model.backbone._target_)
    datamodule.set_context(getattr(backbone, "context_frames", 0))  # TDN: 2 extra per side
    iterator = iter(datamodule.train_dataloader())
    return [next(iterator) for _ in range(count)]


def make_step(detector, criterion, optimizer, channels_last: bool, bf16: bool):
    def step(batch: dict[str, torch.Tensor]) -> float:
        video = batch["video"]
        optimizer.zero_grad()
        autocast = (
            torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        )
        with autocast:
            out = detector(video)
        out = {k: v.float() for k, v in out.items()}  # losses in fp32, as the trainer does
        loss = criterion(out, batch)["loss"]
        loss.backward()
        optimizer.step()
        return float(loss.detach())

    if channels_last:
        to_channels_last(detector)
    return step


def build(cfg, seed: int = 0):
    torch.manual_seed(seed)
    detector = instantiate(cfg.model)
    optimizer = instantiate(cfg.optimizer)(params=detector.parameters())
    return detector, instantiate(cfg.loss), optimizer


def time_modes(cfg, data, steps: int, rounds: int) -> tuple[dict[str, float], list[float]]:
    """Clips/s per mode: the best of ``rounds`` timings of ``steps`` steps, modes interleaved
    round by round so a slow spell of the machine hits every mode alike (noise only ever adds
    time, hence the best); and each round's own default / fp32 ratio, whose range shows how far
    one round's verdict can stray."""
    steppers = {}
    for mode, (channels_last, bf16) in MODES.items():
        steppers[mode] = make_step(*build(cfg), channels_last, bf16)
        steppers[mode](data[0])  # warm-up: allocations, oneDNN kernel choice
    best = dict.fromkeys(MODES, math.inf)
    round_ratios = []
    for _ in range(rounds):
        seconds = {}
        for mode, step in steppers.items():
            start = time.perf_counter()
            for i in range(steps):
                step(data[i % len(data)])
            seconds[mode] = (time.perf_counter() - start) / steps
            best[mode] = min(best[mode], seconds[mode])
        round_ratios.append(seconds["fp32"] / seconds["channels_last+bf16"])
    return {mode: cfg.data.batch_size / s for mode, s in best.items()}, round_ratios


CONV_OPS = ("aten::mkldnn_convolution", "aten::convolution_backward")


def conv_profile(cfg, data) -> dict[str, tuple[float, float]]:
    """Per mode (fp32, default): (convolution seconds, total seconds) of one profiled step —
    self CPU time of the oneDNN convolution kernels, forward and backward, deconvs included."""
    result = {}
    for mode in ("fp32", "channels_last+bf16"):
        step = make_step(*build(cfg), *MODES[mode])
        step(data[0])
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            step(data[1 % len(data)])
        events = prof.key_averages()
        conv = sum(e.self_cpu_time_total for e in events if e.key in CONV_OPS)
        total = sum(e.self_cpu_time_total for e in events)
        result[mode] = (conv / 1e6, total / 1e6)
    return result


def loss_curve(cfg, data, steps: int, seed: int, channels_last: bool, bf16: bool) -> list[float]:
    step = make_step(*build(cfg, seed), channels_last, bf16)
    return [step(data[i % len(data)]) for i in range(steps)]


def tail_mean(curve: list[float], tail: int = 5) -> float:
    """Mean loss over the last ``tail`` steps: where the curve has got to."""
    return statistics.fmean(curve[-tail:])


def compare_curves(cfg, data, steps: int, seeds: int) -> None:
    """fp32 and the default path from the same ``seeds`` inits. The bf16 effect is each seed's
    default − fp32 tail loss; the noise it is judged against is the spread (standard deviation)
    of fp32's tail loss between inits."""
    fp32 = [tail_mean(loss_curve(cfg, data, steps, seed, False, False)) for seed in range(seeds)]
    fast = [tail_mean(loss_curve(cfg, data, steps, seed, True, True)) for seed in range(seeds)]
    effect = [(b - a) / a for a, b in zip(fp32, fast, strict=True)]
    spread = statistics.stdev(fp32) / statistics.fmean(fp32)
    print("tail loss (mean of the last 5 steps) per init: fp32 "
          + ", ".join(f"{v:.3f}" for v in fp32) + "; channels_last+bf16 "
          + ", ".join(f"{v:.3f}" for v in fast))
    print("channels_last+bf16 vs fp32, same init: "
          + ", ".join(f"{e:+.1%}" for e in effect)
          + f" (mean {statistics.fmean(effect):+.1%}); fp32 spread between inits (std/mean) "
          + f"{spread:.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = sorted(BACKBONES)
    parser.add_argument("--backbones", nargs="+", default=names, choices=names)
    parser.add_argument("--steps", type=int, default=2, help="steps per timing")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timings per mode")
    parser.add_argument("--curve-steps", type=int, default=20)
    parser.add_argument("--curve-seeds", type=int, default=3, help="inits per loss curve mode")
    parser.add_argument("--curve-backbone", default="resnet")
    parser.add_argument("--curve-batches", type=int, default=10)
    parser.add_argument("--input-size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument(
        "--glibc-default", action="store_true",
        help="leave glibc's malloc thresholds alone (training sets them: keep_freed_memory)",
    )
    args = parser.parse_args()
    kept = not args.glibc_default and keep_freed_memory()
    allocator = "malloc: keep_freed_memory (as training)" if kept else "malloc: glibc default"
    if args.curve_seeds < 2:
        parser.error("--curve-seeds must be at least 2 (the noise is the spread between inits)")
    print(bench_header(f"fp32 and channels_last+bf16 side by side; training default here: "
                       f"{choose_precision('cpu')}"), flush=True)
    print(f"cores {os.cpu_count()}, torch threads {torch.get_num_threads()}, "
          f"input {args.input_size}, batch {args.batch}, K=8; clips/s of a whole training step; "
          f"{allocator}")
    print(f"interleaved, best of {args.rounds} timings of {args.steps} steps per mode")
    print("conv share: the convolutions' part of the default step (one profiled step); conv "
          "speed-up: their own default / fp32 time ratio")
    print("backbone | " + " | ".join(MODES) + " | default (channels_last+bf16) / fp32 "
          "[range over rounds] | conv share | conv speed-up")
    for backbone in args.backbones:
        cfg = compose_cfg(backbone, args.input_size, args.batch)
        data = batches(cfg, 2)
        rates, round_ratios = time_modes(cfg, data, args.steps, args.rounds)
        ratio = rates["channels_last+bf16"] / rates["fp32"]
        convs = conv_profile(cfg, data)
        (conv_fp32, _), (conv_fast, total_fast) = convs["fp32"], convs["channels_last+bf16"]
        print(f"{backbone:8s} | " + " | ".join(f"{rates[m]:6.2f}" for m in MODES)
              + f" | {ratio:.2f}x [{min(round_ratios):.2f}-{max(round_ratios):.2f}]"
              + f" | {conv_fast / total_fast:.0%} | {conv_fp32 / conv_fast:.2f}x",
              flush=True)
    cfg = compose_cfg(args.curve_backbone, args.input_size, args.batch)
    print(f"loss curves: {args.curve_backbone}, {args.curve_steps} steps over "
          f"{args.curve_batches} batches, {args.curve_seeds} inits per mode")
    compare_curves(cfg, batches(cfg, args.curve_batches), args.curve_steps, args.curve_seeds)


if __name__ == "__main__":
    main()
