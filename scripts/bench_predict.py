"""Frames/s of offline prediction and of the monitor (clip and online mode) on this CPU.

    python scripts/bench_predict.py                      # CPU-scale models + ResNet-50 TSM
    python scripts/bench_predict.py --models cpu --frames 48 --threads 2

Frames are 240x320 synthetic IR-like images (a textured background with a moving blob);
weights are random (speed does not depend on them). Models:

* ``cpu``: the default CPU-scale configuration (conf/train.yaml: resnet18, input 128,
  neck/heads 64, K=8), as the frame-level ``resnet`` backbone and as ``tsm``;
* ``r50tsm``: ResNet-50 TSM at the paper's scale (input 288, neck 256, heads 256, K=8).

For TSM it also reports one clip forward and the online per-frame cost relative to it
(goal: online per-frame ≤ 1.5/K of a clip forward).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator

import numpy as np
import torch

from iodvideo.hardware import bench_header

MODELS = {
    "cpu-resnet": ["backbone=resnet"],
    "cpu-tsm": ["backbone=tsm"],
    "r50tsm": ["backbone=tsm", "backbone.model_name=resnet50", "data.input_size=288",
               "model.neck.channels=256", "model.heads.head_conv=256",
               "model.heads.wh_head_conv=256"],
}
GROUPS = {"cpu": ["cpu-resnet", "cpu-tsm"], "r50tsm": ["r50tsm"]}


def build_runner(overrides: list[str]):
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from iodvideo.config import CONFIG_DIR
    from iodvideo.inference.stream.runner import ClipRunner

    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["data.clip_len=8", "data.root=unused", *overrides])
    torch.manual_seed(0)
    detector = instantiate(OmegaConf.create(OmegaConf.to_container(cfg.model, resolve=True)))
    return ClipRunner(detector, input_size=int(cfg.data.input_size), top_n=100)


def synthetic_frames(count: int, height: int, width: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    background = rng.normal(128, 12, (height, width)).astype(np.float32)
    yy, xx = np.mgrid[:height, :width]
    frames = []
    for t in range(count):
        blob = 25 * np.exp(-(((xx - 60 - 3 * t) / 30) ** 2 + ((yy - 120) / 20) ** 2))
        image = np.clip(background + blob + rng.normal(0, 1, (height, width)), 0, 255)
        frames.append(np.repeat(image.astype(np.uint8)[..., None], 3, axis=2))
    return np.stack(frames)


class ArraySource:
    def __init__(self, frames: np.ndarray, fps: float = 25.0) -> None:
        self.frames, self.fps = frames, fps
        self.num_frames, self.name = len(frames), "bench"

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter(self.frames)

    def describe(self) -> str:
        return "synthetic frames"


def timed(fn) -> float:
    began = time.perf_counter()
    fn()
    return time.perf_counter() - began


def bench(name: str, frames: np.ndarray, batch_size: int) -> dict:
    from iodvideo.inference.stream.engines import ClipEngine, OnlineEngine
    from iodvideo.inference.stream.offline import LinkConfig, predict_video

    runner = build_runner(MODELS[name])
    k = runner.clip_len
    clip = runner.preprocess(frames[:k])[None]
    runner(clip, frames.shape[1:3])  # warm-up
    clip_seconds = min(timed(lambda: runner(clip, frames.shape[1:3])) for _ in range(2))
    result = {"model": name, "input_size": runner.input_size, "clip_len": k,
              "frames": len(frames), "clip_forward_s": round(clip_seconds, 4)}

    seconds = timed(lambda: predict_video(runner, ArraySource(frames), batch_size=batch_size,
                                          link=LinkConfig(min_length=3)))
    result["offline_fps"] = round(len(frames) / seconds, 2)

    def run_engine(engine) -> None:
        for frame in frames:
            engine.push(frame)
        engine.flush()

    result["monitor_clip_fps"] = round(len(frames) / timed(lambda: run_engine(
        ClipEngine(runner))), 2)
    if runner.backbone == "tsm":
        engine = OnlineEngine(runner)
        run_engine(OnlineEngine(runner))  # warm-up
        seconds = timed(lambda: run_engine(engine))
        per_frame = seconds / len(frames)
        result["monitor_online_fps"] = round(1 / per_frame, 2)
        result["online_delay_frames"] = engine.delay
        result["online_frame_over_clip_times_k"] = round(per_frame / clip_seconds * k, 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="cpu,r50tsm", help="cpu, r50tsm (comma list)")
    parser.add_argument("--frames", type=int, default=32, help="frames per run (CPU models)")
    parser.add_argument("--r50-frames", type=int, default=12, help="frames for r50tsm")
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0 = default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(bench_header("fp32 inference, NCHW (ClipRunner)"), flush=True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"frames {args.height}x{args.width}")
    rows = []
    for group in args.models.split(","):
        for name in GROUPS[group.strip()]:
            count = args.r50_frames if name == "r50tsm" else args.frames
            row = bench(name, synthetic_frames(count, args.height, args.width), args.batch_size)
            print(json.dumps(row), flush=True)
            rows.append(row)
    header = ("model", "offline_fps", "monitor_clip_fps", "monitor_online_fps",
              "clip_forward_s", "online_frame_over_clip_times_k")
    print("| " + " | ".join(header) + " |\n" + "|---" * len(header) + "|")
    for row in rows:
        print("| " + " | ".join(str(row.get(h, "–")) for h in header) + " |")


if __name__ == "__main__":
    main()
