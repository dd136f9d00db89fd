"""The whole pipeline can learn: one fixed batch is fitted until the boxes that the
validation decoder and evaluator produce from it score AP@0.5 near 100.

A failure here means a bug in targets, heads, losses, decoding, BatchNorm handling or
scoring, not a lack of data or steps (docs/learning.md tells how this found the stale
BatchNorm statistics that kept the first CPU runs near AP 0).
"""

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from iodvideo.config import CONFIG_DIR
from iodvideo.detections import DecodeSettings, clips_to_frame_detections, decode_batch
from iodvideo.evaluation import frame_ap_at
from iodvideo.evaluation.torchmetric import covered_ground_truth
from iodvideo.training.bn_calibration import recalibrate_batchnorm


def fixed_batch_ap(cfg, steps: int) -> tuple[float, float, float]:
    """Fit one batch for ``steps`` Adam steps; return (first loss, last loss, AP@0.5 of the
    batch's frames from the eval-mode model after BatchNorm recalibration)."""
    torch.manual_seed(0)
    data = instantiate(cfg.data)
    data.prepare_data()
    detector, criterion = instantiate(cfg.model), instantiate(cfg.loss)
    batch = next(iter(data.train_dataloader()))
    optimizer = torch.optim.Adam(detector.parameters(), lr=2e-3)
    losses = []
    for _ in range(steps):
        loss = criterion(detector(batch["video"]), batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss))
    recalibrate_batchnorm(detector, [batch["video"]], detector)
    with torch.no_grad():
        out = detector.eval()(batch["video"])
    clip_len, videos = cfg.data.clip_len, data.train_videos()
    clips: dict[int, dict[int, object]] = {}
    for vi, start, tubelets in decode_batch(out, batch, DecodeSettings("mov", 100)).clips():
        clips.setdefault(vi, {})[start] = tubelets
    gt = covered_ground_truth(clips, videos, {v: data.annotations.tube(v) for v in videos},
                              clip_len)
    # each clip is its own "video" here, so overlapping clips of one video are not merged
    detections, truth = {}, {}
    for vi, by_start in clips.items():
        for start, tubelets in by_start.items():
            key = f"{videos[vi]}@{start}"
            detections[key] = clips_to_frame_detections({start: tubelets}, clip_len)
            rows = gt[videos[vi]]
            truth[key] = rows[(rows[:, 0] >= start) & (rows[:, 0] < start + clip_len)]
    return losses[0], losses[-1], frame_ap_at(detections, truth, [0.5])[0.5]


def test_one_fixed_batch_is_fitted_to_ap_near_100(tmp_path):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=[
            "experiment=smoke", f"data.root={tmp_path / 'synth'}", "data.augment=null",
            "data.batch_size=4", "data.val_fraction=0", "data.online=null",
        ])
    first, last, ap = fixed_batch_ap(cfg, steps=80)
    assert last < 0.1 * first
    assert ap > 0.9
