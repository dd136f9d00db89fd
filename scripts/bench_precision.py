"""Whole training steps (backbone, neck, heads, loss, Adam) in fp32, channels_last, bf16 and
channels_last + bf16; and the loss curves of fp32 vs channels_last + bf16 from one init, next
to the noise between two fp32 runs from different inits.

    .venv/bin/python scripts/bench_precision.py [--backbones resnet tsm ...] [--steps 2]
        [--rounds 3] [--curve-steps 20] [--input-size 128] [--batch 8]

Uses the training config as composed by ``python -m iodvideo.train`` (CPU-scale model) and
real SynthIOD clips from ``data/synth`` (generated if absent). bf16 is CPU autocast, what
``trainer.precision=bf16-mixed`` runs; channels_last is ``channels_last=true``.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import time

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import get_class, instantiate

import iodvideo.models.temporal  # noqa: F401  (registers the backbones)
from iodvideo.config import CONFIG_DIR
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


def time_modes(cfg, data, steps: int, rounds: int) -> dict[str, float]:
    """Clips/s per mode: the best of ``rounds`` timings of ``steps`` steps, modes interleaved
    round by round so a slow spell of the machine hits every mode alike (noise only ever adds
    time, hence the best)."""
    steppers = {}
    for mode, (channels_last, bf16) in MODES.items():
        steppers[mode] = make_step(*build(cfg), channels_last, bf16)
        steppers[mode](data[0])  # warm-up: allocations, oneDNN kernel choice
    best = dict.fromkeys(MODES, math.inf)
    for _ in range(rounds):
        for mode, step in steppers.items():
            start = time.perf_counter()
            for i in range(steps):
                step(data[i % len(data)])
            best[mode] = min(best[mode], (time.perf_counter() - start) / steps)
    return {mode: cfg.data.batch_size / seconds for mode, seconds in best.items()}


def loss_curve(cfg, data, steps: int, seed: int, channels_last: bool, bf16: bool) -> list[float]:
    step = make_step(*build(cfg, seed), channels_last, bf16)
    return [step(data[i % len(data)]) for i in range(steps)]


def tail_gap(a: list[float], b: list[float], tail: int = 5) -> float:
    """Mean relative gap between two loss curves over their last ``tail`` steps."""
    pairs = list(zip(a[-tail:], b[-tail:], strict=True))
    return sum(abs(x - y) / abs(x) for x, y in pairs) / len(pairs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = sorted(BACKBONES)
    parser.add_argument("--backbones", nargs="+", default=names, choices=names)
    parser.add_argument("--steps", type=int, default=2, help="steps per timing")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved timings per mode")
    parser.add_argument("--curve-steps", type=int, default=20)
    parser.add_argument("--curve-backbone", default="resnet")
    parser.add_argument("--curve-batches", type=int, default=10)
    parser.add_argument("--input-size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    print(f"cores {os.cpu_count()}, torch threads {torch.get_num_threads()}, "
          f"input {args.input_size}, batch {args.batch}, K=8; clips/s of a whole training step")
    print(f"interleaved, best of {args.rounds} timings of {args.steps} steps per mode")
    print("backbone | " + " | ".join(MODES) + " | default (channels_last+bf16) / fp32")
    for backbone in args.backbones:
        cfg = compose_cfg(backbone, args.input_size, args.batch)
        rates = time_modes(cfg, batches(cfg, 2), args.steps, args.rounds)
        ratio = rates["channels_last+bf16"] / rates["fp32"]
        print(f"{backbone:8s} | " + " | ".join(f"{rates[m]:6.2f}" for m in MODES)
              + f" | {ratio:.2f}x", flush=True)
    cfg = compose_cfg(args.curve_backbone, args.input_size, args.batch)
    data = batches(cfg, args.curve_batches)
    fp32 = loss_curve(cfg, data, args.curve_steps, 0, False, False)
    noise = loss_curve(cfg, data, args.curve_steps, 1, False, False)  # fp32, another init
    fast = loss_curve(cfg, data, args.curve_steps, 0, True, True)
    print(f"loss curves, {args.curve_backbone}, {args.curve_steps} steps over "
          f"{args.curve_batches} batches: fp32 {fp32[0]:.3f} -> {fp32[-1]:.3f}; fp32 with another "
          f"init {noise[0]:.3f} -> {noise[-1]:.3f}; channels_last+bf16 (same init as fp32) "
          f"{fast[0]:.3f} -> {fast[-1]:.3f}")
    print(f"mean relative gap over the last 5 steps: bf16 vs fp32 {tail_gap(fp32, fast):.1%}, "
          f"fp32 vs fp32 with another init (noise) {tail_gap(fp32, noise):.1%}")


if __name__ == "__main__":
    main()
