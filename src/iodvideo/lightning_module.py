"""LightningModule: the training step, and frame-level AP as the validation metric."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
import torch.distributed as dist
from torch import nn

from iodvideo.errors import IODVideoError
from iodvideo.evaluation import frame_ap_at
from iodvideo.evaluation.metrics import paper_metrics as score_paper_metrics
from iodvideo.inference.decode import boxes_to_image, decode_clips
from iodvideo.inference.merge import clips_to_frame_detections
from iodvideo.models.memory_format import to_channels_last

# Checkpoint key under which the training run's resolved config travels.
CONFIG_KEY = "iodvideo_config"


class NonFiniteLossError(IODVideoError):
    """A loss term became NaN or inf: training stops, the last good checkpoint is kept."""


def latest_checkpoint(trainer: pl.Trainer) -> str | None:
    """Path of the newest every-epoch checkpoint (``last.ckpt``) this run wrote, if any."""
    for callback in trainer.checkpoint_callbacks:
        path = callback.last_model_path or (
            callback.best_model_path if callback.monitor is None else ""
        )
        if path:
            return path
    return None


def covered_ground_truth(
    clip_detections: dict[int, dict[int, np.ndarray]],
    videos: Sequence[str],
    ground_truth: dict[str, np.ndarray],
    clip_len: int,
) -> dict[str, np.ndarray]:
    """The GT tubes of the videos that have decoded clips, cut to the frames those clips cover
    (``video_idx`` → {start: tubelets}); GT rows are ``frame, x1, y1, x2, y2``."""
    covered: dict[str, np.ndarray] = {}
    for vi, clips in clip_detections.items():
        tube = np.asarray(ground_truth[videos[vi]])
        seen = np.zeros(len(tube), dtype=bool)
        for start in clips:
            seen |= (tube[:, 0] >= start) & (tube[:, 0] < start + clip_len)
        covered[videos[vi]] = tube[seen]
    return {video: covered[video] for video in videos if video in covered}


class IODLitModule(pl.LightningModule):
    """Wraps a clip detector and its criterion.

    Validation decodes every clip of the datamodule's validation videos (held-out training
    videos; ``sta=False``: MOV mode, ``sta=True``: STA mode with ``offset_scale``; protocol §8),
    merges clips into per-frame detections and scores frameAP with the paper's protocol
    (protocol §9) at each threshold in ``iou_thresholds``; the metrics are logged as
    ``val/frameAP@<th>`` in percent (``paper_metrics=True``: the paper's five, ``val/AP@0.5``
    ... ``val/AP@0.5:0.95``). Test (``trainer.test``) does the same on the test videos and
    logs the five metrics plus ``test/AP@0.5_clear`` and ``test/AP@0.5_vague``. Under DDP
    every rank decodes its share of the clips and the detections are gathered before scoring,
    so each rank logs the same AP.
    ``validation_step`` returns the grid-unit detections of its batch (for image callbacks).
    """

    def __init__(
        self,
        detector: nn.Module,
        criterion: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        top_n: int = 100,
        iou_thresholds: Sequence[float] = (0.5,),
        sta: bool = False,
        offset_scale: float = 18.0,
        channels_last: bool = False,
        paper_metrics: bool = False,
        config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.detector = detector
        self.criterion = criterion
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.top_n = top_n
        self.iou_thresholds = [float(t) for t in iou_thresholds]
        self.decode_mode = "sta" if sta else "mov"
        self.offset_scale = float(offset_scale)
        self.channels_last = channels_last
        if channels_last:
            to_channels_last(self.detector)
        self.paper_metrics = paper_metrics
        self._clip_detections: dict[int, dict[int, np.ndarray]] = defaultdict(dict)

    def forward(self, video: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.detector(video)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        losses = self.criterion(self.detector(batch["video"]), batch)
        self._check_finite(losses)
        batch_size = batch["video"].shape[0]
        self.log("train/loss", losses["loss"], prog_bar=True, batch_size=batch_size)
        self.log_dict(
            {f"train/{k}": v for k, v in losses.items() if k != "loss"},
            on_step=False, on_epoch=True, batch_size=batch_size,
        )
        return losses["loss"]

    def _check_finite(self, losses: dict[str, torch.Tensor]) -> None:
        """Stop on a NaN/inf loss, naming the step and the first bad term (components first:
        a finite set of components with a non-finite total means a bad loss weight)."""
        values = {k: float(v.detach()) for k, v in losses.items()}
        bad = [k for k, v in values.items() if k != "loss" and not math.isfinite(v)]
        if not bad and math.isfinite(values["loss"]):
            return
        term = bad[0] if bad else "loss (the weighted sum; check the loss.*_weight values)"
        value = values[bad[0]] if bad else values["loss"]
        last = latest_checkpoint(self.trainer)
        kept = f"the last good checkpoint is {last}" if last else "no checkpoint was written yet"
        raise NonFiniteLossError(
            f"non-finite loss at global step {self.global_step} (epoch {self.current_epoch}): "
            f"{term} = {value}; training stopped, {kept}"
        )

    def on_validation_epoch_start(self) -> None:
        self._clip_detections = defaultdict(dict)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict:
        out = {k: v.float() for k, v in self.detector(batch["video"]).items()}
        dets = decode_clips(out, self.decode_mode, self.top_n, self.offset_scale).cpu()
        grid_hw = tuple(out["hm"].shape[-2:])
        for det, video_idx, start, image_hw in zip(
            dets, batch["video_idx"].tolist(), batch["start"].tolist(),
            batch["image_hw"].tolist(), strict=True,
        ):
            image = boxes_to_image(det, grid_hw, tuple(image_hw))
            self._clip_detections[video_idx][start] = image.numpy()
        return {"dets": dets}

    def _gathered_detections(self) -> dict[int, dict[int, np.ndarray]]:
        """All ranks' clip detections (a DistributedSampler's padding repeats are merged away
        because clips are keyed by video and start frame)."""
        local = dict(self._clip_detections)
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return local
        parts: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(parts, local)
        merged: dict[int, dict[int, np.ndarray]] = defaultdict(dict)
        for part in parts:
            for video_idx, clips in part.items():
                merged[video_idx].update(clips)
        return merged

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            self._clip_detections = defaultdict(dict)
            return
        self._score("val")

    def on_test_epoch_start(self) -> None:
        self._clip_detections = defaultdict(dict)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict:
        return self.validation_step(batch, batch_idx)

    def on_test_epoch_end(self) -> None:
        self._score("test")

    def _score(self, stage: str) -> None:
        """frameAP of the clips decoded in this ``val``/``test`` epoch, against the ground
        truth of exactly the frames those clips cover (a partial run, e.g. with
        ``trainer.limit_val_batches``, is not charged with misses on frames it never saw).
        ``test`` always logs the paper's five metrics plus AP@0.5 on clear and vague videos."""
        clip_detections = self._gathered_detections()
        self._clip_detections = defaultdict(dict)
        videos, ground_truth = self.trainer.datamodule.ground_truth(stage)
        clip_len = self.detector.clip_len
        detections = {
            videos[vi]: clips_to_frame_detections(clips, clip_len)
            for vi, clips in clip_detections.items()
        }
        if not detections:
            return
        covered = covered_ground_truth(clip_detections, videos, ground_truth, clip_len)
        if self.paper_metrics or stage == "test":
            split = score_paper_metrics(detections, covered)
            values = {f"{stage}/{k}": v for k, v in split.metrics.items()}
            for visibility in ("clear", "vague"):
                ap = split.ap[visibility].get(0.5)
                if ap is not None and math.isfinite(ap):
                    values[f"{stage}/AP@0.5_{visibility}"] = 100.0 * ap
        else:
            aps = frame_ap_at(detections, covered, self.iou_thresholds)
            values = {f"{stage}/frameAP@{th:g}": 100.0 * ap for th, ap in aps.items()}
        values[f"{stage}/num_clips"] = float(sum(len(c) for c in clip_detections.values()))
        # identical on every rank (gathered above); sync_dist only silences Lightning's warning
        self.log_dict(values, sync_dist=self.trainer.world_size > 1)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the run's resolved config (plain containers) so that eval/predict can rebuild
        the model from the checkpoint alone; it loads fine with ``weights_only=True``."""
        if self.config is not None:
            checkpoint[CONFIG_KEY] = self.config

    def configure_optimizers(self) -> dict:
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return {"optimizer": optimizer}
        # a scheduler class says if it steps per batch (``interval = "step"``) and if it needs
        # the run's length (``needs_total_steps``: e.g. iodvideo.schedules.WarmupCosineLR)
        target = getattr(self.scheduler_factory, "func", self.scheduler_factory)
        extra = {}
        if getattr(target, "needs_total_steps", False) and "total_steps" not in getattr(
            self.scheduler_factory, "keywords", {}
        ):
            extra["total_steps"] = int(self.trainer.estimated_stepping_batches)
        scheduler = self.scheduler_factory(optimizer=optimizer, **extra)
        schedule = {"scheduler": scheduler, "interval": getattr(target, "interval", "epoch")}
        return {"optimizer": optimizer, "lr_scheduler": schedule}
