"""Fit one fixed batch and compare its decoded boxes in training mode, evaluation mode and
evaluation mode after BatchNorm recalibration (the diagnosis in docs/learning.md).

    .venv/bin/python scripts/overfit_batch.py [--steps 60] [--every 25] [override ...]

Overrides are train-config overrides (default: the training config at 96 px, frame-level
resnet18, SynthIOD in /tmp/overfit_synth, no augmentation). Prints, every ``--every`` steps, the
losses and AP@{0.1,0.3,0.5,0.75} of the batch's frames through the validation decoder and
evaluator (eval mode, the running statistics), and at the end the mean top-1 IoU per mode.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from iodvideo.config import CONFIG_DIR
from iodvideo.detections import (
    DecodeSettings,
    clips_to_frame_detections,
    decode_batch,
    iou_plus1,
)
from iodvideo.evaluation import frame_ap_at
from iodvideo.hardware import bench_header
from iodvideo.training.bn_calibration import recalibrate_batchnorm

DEFAULTS = ["data.root=/tmp/overfit_synth", "data.synth.num_videos=6", "data.augment=null",
            "data.online=null", "data.num_workers=0", "data.input_size=96", "backbone=resnet"]


def decoded(detector, batch, cfg, training: bool) -> list[np.ndarray]:
    """Per clip, its tubelets in image pixels ``(N, 4K+1)``."""
    detector.train(training)
    with torch.no_grad():
        out = {k: v.float() for k, v in detector(batch["video"]).items()}
    detector.train()
    settings = DecodeSettings("sta" if cfg.loss.sta else "mov", 100, cfg.loss.offset_scale)
    return [t for _, _, t in decode_batch(out, batch, settings).clips()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--every", type=int, default=25)
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    print(bench_header("fp32 eager"), flush=True)
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[*DEFAULTS, *args.overrides])
    torch.manual_seed(0)
    data = instantiate(cfg.data)
    data.prepare_data()
    detector, criterion = instantiate(cfg.model), instantiate(cfg.loss)
    batch = next(iter(data.train_dataloader()))
    videos, clip_len = data.train_videos(), cfg.data.clip_len
    truth = []
    for vi, start in zip(batch["video_idx"].tolist(), batch["start"].tolist(), strict=True):
        tube = data.annotations.tube(videos[vi])
        truth.append(tube[(tube[:, 0] >= start) & (tube[:, 0] < start + clip_len)])

    def ap(tubelets: list[np.ndarray]) -> dict[float, float]:
        dets = {f"c{i}": clips_to_frame_detections({int(s): t}, clip_len) for i, (s, t) in
                enumerate(zip(batch["start"].tolist(), tubelets, strict=True))}
        gts = {f"c{i}": g for i, g in enumerate(truth)}
        aps = frame_ap_at(dets, gts, [0.1, 0.3, 0.5, 0.75])
        return {k: round(100 * v, 1) for k, v in aps.items()}

    def top1_iou(tubelets: list[np.ndarray]) -> np.ndarray:
        return np.array([iou_plus1(g[k, 1:5], t[0:1, 4 * k:4 * k + 4])[0]
                         for t, g in zip(tubelets, truth, strict=True) for k in range(clip_len)])

    optimizer = torch.optim.Adam(detector.parameters(), lr=1e-3)
    start = time.perf_counter()
    for step in range(args.steps):
        losses = criterion(detector(batch["video"]), batch)
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
        if step % args.every == 0 or step == args.steps - 1:
            values = {k: round(float(v.detach()), 4) for k, v in losses.items()}
            print(f"step {step} ({time.perf_counter() - start:.0f} s) {values} eval-mode AP "
                  f"{ap(decoded(detector, batch, cfg, training=False))}", flush=True)
    for mode, training in (("train mode", True), ("eval mode", False)):
        iou = top1_iou(decoded(detector, batch, cfg, training))
        print(f"{mode}: mean top-1 IoU {iou.mean():.3f}, IoU >= 0.5 on {np.mean(iou >= 0.5):.0%}")
    recalibrate_batchnorm(detector, [batch["video"]], detector)
    tubelets = decoded(detector, batch, cfg, training=False)
    iou = top1_iou(tubelets)
    print(f"eval mode, recalibrated BatchNorm: mean top-1 IoU {iou.mean():.3f}, IoU >= 0.5 on "
          f"{np.mean(iou >= 0.5):.0%}, AP {ap(tubelets)}")


if __name__ == "__main__":
    main()
