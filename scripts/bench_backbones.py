"""Benchmark every registered backbone: parameters, GFLOPs per clip, clips/s (not a test).

    python scripts/bench_backbones.py                       # paper size: K=8, 288², ResNet-50
    python scripts/bench_backbones.py --scale cpu --size 128 --train
    python scripts/bench_backbones.py --only tsm tea --modes fp32 channels_last+bf16 --train

"paper" builds the ResNet-50 versions (Res2Net-50 26w4s for TEA) the paper's Tables 1–2 use;
"cpu" the configs' CPU-scale defaults (ResNet-18; TEA with one block per stage). Forward runs in
eval mode; ``--train`` also times forward+backward in train mode, the backward fed fixed random
gradients in each stage map's dtype and layout, as the neck hands them back (a loss on the
maps, e.g. a mean square in fp32, would add its own fp32 NCHW backward to the bf16 path).
Modes: fp32 (plain eager), channels_last, bf16 (CPU autocast) and channels_last+bf16 (the
training default); each mode times a freshly built model. Every run also checks that the
backbone returns K maps at strides 4..32 — a full-size shape check the tiny unit tests skip.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import time
from collections.abc import Callable, Iterator

import torch
from torch.utils.flop_counter import FlopCounterMode

import iodvideo.models.temporal  # noqa: F401  (registers the backbones)
from iodvideo.allocator import keep_freed_memory
from iodvideo.hardware import bench_header, choose_precision
from iodvideo.models.memory_format import to_channels_last
from iodvideo.models.registry import BACKBONES

SCALES = {
    "paper": {"tea": ("res2net50_26w_4s", {}), "*": ("resnet50", {})},
    "cpu": {"tea": ("res2net50_26w_4s", {"layers": (1, 1, 1, 1)}), "*": ("resnet18", {})},
}


def build(name: str, scale: str, clip_len: int) -> torch.nn.Module:
    model_name, kwargs = SCALES[scale].get(name, SCALES[scale]["*"])
    if name == "resnet":
        return BACKBONES[name](model_name, model_kwargs=kwargs)
    return BACKBONES[name](model_name, clip_len=clip_len, model_kwargs=kwargs)


MODES = {  # name: (channels_last, bf16 autocast)
    "fp32": (False, False),
    "channels_last": (True, False),
    "bf16": (False, True),
    "channels_last+bf16": (True, True),
}
FAST = "channels_last+bf16"  # the training default (channels_last: true, bf16-mixed on CPU)


@contextlib.contextmanager
def precision(bf16: bool) -> Iterator[None]:
    if bf16:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            yield
    else:
        yield


def best_seconds(steps: dict[str, Callable[[], None]], repeats: int, rounds: int) -> dict:
    """Best per-call time of each step over ``rounds`` timings of ``repeats`` calls, the steps
    interleaved round by round so a slow spell of the machine hits every mode alike."""
    for step in steps.values():
        step()  # warm-up (allocations, oneDNN kernel choice)
    best = dict.fromkeys(steps, math.inf)
    for _ in range(rounds):
        for key, step in steps.items():
            start = time.perf_counter()
            for _ in range(repeats):
                step()
            best[key] = min(best[key], (time.perf_counter() - start) / repeats)
    return best


def make_steps(net: torch.nn.Module, video: torch.Tensor, bf16: bool, train: bool) -> dict:
    def forward() -> None:
        net.eval()
        with torch.no_grad(), precision(bf16):
            net(video)

    upstream: list[torch.Tensor] = []  # the neck's gradients: made once, reused

    def train_step() -> None:
        net.train()
        with precision(bf16):
            maps = net(video)
        if not upstream:  # random, in each map's dtype and memory layout (randn_like keeps both)
            upstream.extend(torch.randn_like(f) for f in maps)
        torch.autograd.backward(maps, upstream)
        net.zero_grad(set_to_none=True)

    return {"fwd": forward, "train": train_step} if train else {"fwd": forward}


def bench(name: str, args: argparse.Namespace) -> None:
    torch.manual_seed(0)
    model = build(name, args.scale, args.clip_len)
    frames = args.clip_len + 2 * getattr(model, "context_frames", 0)
    video = torch.randn(args.batch, frames, 3, args.size, args.size)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        features = model(video[:1])
    gflops = counter.get_total_flops() / 1e9
    expected = [
        (args.clip_len, c, args.size // s, args.size // s)
        for c, s in zip(model.feature_channels, (4, 8, 16, 32), strict=True)
    ]
    shapes_ok = [tuple(f.shape) for f in features] == expected
    steps = {}
    for mode in args.modes:  # one model per mode, so layouts don't leak between modes
        channels_last, bf16 = MODES[mode]
        torch.manual_seed(0)
        net = build(name, args.scale, args.clip_len)
        if channels_last:
            to_channels_last(net)
        for kind, step in make_steps(net, video, bf16, args.train).items():
            steps[kind, mode] = step
    rates = {k: args.batch / s for k, s in best_seconds(steps, args.repeats, args.rounds).items()}
    cells = [f"{name:7s}", f"{params:7.2f}M", f"{gflops:8.1f}", "ok" if shapes_ok else "BAD"]
    cells += [f"{rates[key]:9.2f}" for key in steps]
    if args.train and {"fp32", FAST} <= set(args.modes):
        cells.append(f"{rates['train', FAST] / rates['train', 'fp32']:5.2f}x")
    print(" | ".join(cells), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="paper")
    parser.add_argument("--clip-len", type=int, default=8)
    parser.add_argument("--size", type=int, default=288)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1, help="calls per timing")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved timings per mode")
    parser.add_argument("--train", action="store_true", help="also time forward+backward")
    parser.add_argument("--modes", nargs="+", default=["fp32"], choices=list(MODES))
    parser.add_argument("--only", nargs="+", default=sorted(BACKBONES), choices=sorted(BACKBONES))
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    parser.add_argument(
        "--glibc-default", action="store_true",
        help="leave glibc's malloc thresholds alone (training sets them: keep_freed_memory)",
    )
    args = parser.parse_args()
    kept = not args.glibc_default and keep_freed_memory()
    allocator = "malloc: keep_freed_memory (as training)" if kept else "malloc: glibc default"
    if args.threads:
        torch.set_num_threads(args.threads)
    print(bench_header(f"modes {', '.join(args.modes)}; training default here: "
                       f"{choose_precision('cpu')}"), flush=True)
    header = ["backbone", "params", "GFLOP/clip", "shapes"]
    for mode in args.modes:
        header.append(f"fwd {mode} clip/s")
        if args.train:
            header.append(f"train {mode} clip/s")
    if args.train and {"fp32", FAST} <= set(args.modes):
        header.append(f"train {FAST} / fp32")
    print(f"K={args.clip_len} {args.size}x{args.size} batch {args.batch} scale={args.scale}; "
          f"best of {args.rounds} interleaved timings of {args.repeats} call(s); {allocator}")
    print(" | ".join(header))
    for name in args.only:
        bench(name, args)


if __name__ == "__main__":
    main()
