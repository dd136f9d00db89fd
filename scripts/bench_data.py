"""Is training input-bound? Training-loader clips/s (PNG folders and video files) next to the
clips/s that one training step of the default model consumes, measured in the same run.

    .venv/bin/python scripts/bench_data.py [--root data/synth] [--batches 20] [--steps 5]

Uses SynthIOD in ``--root`` (generated if absent) and writes ``<root>/Videos`` (lossless FFV1)
on first use. Loader: K=8, 288×288, MOC augmentation, batch 8, 2 workers. Goal: loader
clips/s ≥ 5 × training clips/s.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from iodvideo.config import CONFIG_DIR
from iodvideo.data.convert import convert
from iodvideo.data.readers import FrameFolderReader, VideoFileReader
from iodvideo.hardware import bench_header, choose_precision
from iodvideo.models.memory_format import to_channels_last


def loader_rate(cfg, reader, batches: int) -> float:
    """Clips/s of the training DataLoader, after its workers have started."""
    datamodule = instantiate(cfg.data, reader=reader)
    datamodule.set_context(0)
    iterator = iter(datamodule.train_dataloader())
    next(iterator)  # worker start-up is not throughput
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * cfg.data.batch_size / (time.perf_counter() - start)


def train_step_rate(cfg, steps: int) -> float:
    """Clips/s of forward + backward + Adam step of the configured model on CPU, on
    training's default path (channels_last, bf16 autocast where the CPU computes it natively)."""
    torch.manual_seed(0)
    datamodule = instantiate(cfg.data)
    datamodule.set_context(0)
    batch = next(iter(datamodule.train_dataloader()))
    detector, criterion = instantiate(cfg.model), instantiate(cfg.loss)
    to_channels_last(detector)  # the training default: channels_last, bf16 where native
    bf16 = choose_precision("cpu").precision == "bf16-mixed"
    optimizer = instantiate(cfg.optimizer)(params=detector.parameters())

    def step() -> None:
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = detector(batch["video"])
        criterion(out, batch)["loss"].backward()
        optimizer.step()

    step()  # warm-up
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * cfg.data.batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("data/synth"))
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--input-size", type=int, default=288)
    args = parser.parse_args()
    overrides = [
        f"data.root={args.root.absolute()}", f"data.input_size={args.input_size}",
        "data.clip_len=8", "data.batch_size=8", "data.num_workers=2",
        # the on-disk loaders with the MOC augmentation, not the on-the-fly renderer
        "data.online=null", "data.augment={_target_:iodvideo.data.augment.MOCAugment}",
    ]
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=False)
    instantiate(cfg.data).prepare_data()
    if not (args.root / "Videos").exists():
        convert(args.root, "videos", show_progress=False)
    print(bench_header(f"training step on the training default: channels_last, "
                       f"{choose_precision('cpu')}"), flush=True)
    png = loader_rate(cfg, FrameFolderReader(args.root / "Frames"), args.batches)
    video = loader_rate(cfg, VideoFileReader(args.root / "Videos"), args.batches)
    train = train_step_rate(cfg, args.steps)
    print(f"cores: {os.cpu_count()}  K=8  input {args.input_size}  batch 8  workers 2")
    print(f"loader, PNG folders : {png:7.1f} clips/s  ({png / train:5.1f}x training)")
    print(f"loader, video files : {video:7.1f} clips/s  ({video / train:5.1f}x training)")
    print(f"training step       : {train:7.2f} clips/s  (default model: {cfg.backbone.model_name})")


if __name__ == "__main__":
    main()
