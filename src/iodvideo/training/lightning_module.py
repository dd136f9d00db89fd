"""LightningModule: the training step, and frame-level AP as the validation and test metric."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import pytorch_lightning as pl
import torch
from torch import nn

from iodvideo.checkpointing import CONFIG_KEY
from iodvideo.detections.batch import DecodeSettings, decode_batch
from iodvideo.errors import IODVideoError
from iodvideo.evaluation.torchmetric import FrameAP
from iodvideo.models.memory_format import to_channels_last


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


class IODLitModule(pl.LightningModule):
    """Wraps a clip detector and its criterion.

    Validation decodes every clip of the datamodule's validation videos (held-out training
    videos; ``sta=False``: MOV mode, ``sta=True``: STA mode with ``offset_scale``; protocol §8;
    ``sizes`` frame | clip: each frame's own box size or the tubelet's mean, detections/decode.py)
    with :func:`~iodvideo.detections.batch.decode_batch` and feeds them to one
    :class:`~iodvideo.evaluation.torchmetric.FrameAP`, which merges clips per frame and scores
    frameAP with the paper's protocol (protocol §9) against the frames the clips covered: logged
    as ``val/frameAP@<th>`` in percent for each of ``iou_thresholds`` (``paper_metrics=True``:
    every named metric, ``val/AP@0.5`` ... ``val/AP@0.5:0.95``). Test (``trainer.test``) does
    the same on the test videos and always logs the named metrics (the paper's five plus
    ``test/AP@0.5_clear`` and ``test/AP@0.5_vague``); both log ``<stage>/num_clips``. Under
    DDP every rank decodes its share of the clips and the metric gathers them before scoring,
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
        sizes: str = "frame",
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
        self.decode = DecodeSettings("sta" if sta else "mov", int(top_n), float(offset_scale),
                                     str(sizes))
        self.iou_thresholds = [float(t) for t in iou_thresholds]
        self.channels_last = channels_last
        if channels_last:
            to_channels_last(self.detector)
        self.paper_metrics = paper_metrics
        # the running val/test metric (a plain dict: not a submodule, never in a checkpoint)
        self._metric: dict[str, FrameAP] = {}

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

    def _start_metric(self, stage: str) -> None:
        datamodule = self.trainer.datamodule
        videos, ground_truth = datamodule.ground_truth(stage)
        labels = list(getattr(datamodule, "labels", None) or [])
        # several classes: each class is scored against its own GT (evaluation/classes.py)
        class_gt = [datamodule.ground_truth(stage, label=c)[1] for c in range(len(labels))
                    ] if len(labels) > 1 else None
        metric = FrameAP(videos, ground_truth, self.detector.clip_len, self.iou_thresholds,
                         paper_metrics=self.paper_metrics or stage == "test",
                         class_gt=class_gt, labels=labels if class_gt else None)
        # the clips stay in host memory; only a DDP gather (NCCL) needs them on the device
        self._metric = {stage: metric.to(self.device) if self.trainer.world_size > 1 else metric}

    def on_validation_epoch_start(self) -> None:
        self._start_metric("val")

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict:
        decoded = decode_batch(self.detector(batch["video"]), batch, self.decode)
        for metric in self._metric.values():
            metric.update(decoded.tubelets, decoded.video_idx, decoded.start, decoded.labels)
        return {"dets": decoded.grid}

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            self._metric = {}
            return
        self._score("val")

    def on_test_epoch_start(self) -> None:
        self._start_metric("test")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict:
        return self.validation_step(batch, batch_idx)

    def on_test_epoch_end(self) -> None:
        self._score("test")

    def _score(self, stage: str) -> None:
        """Log the metric of the clips decoded in this ``val``/``test`` epoch (nothing when no
        clip was decoded); scored against exactly the frames those clips cover."""
        metric = self._metric.pop(stage, None)
        if metric is None or (metric.update_count == 0 and self.trainer.world_size == 1):
            return
        values = {f"{stage}/{k}": float(v) for k, v in metric.compute().items()}
        if values:
            # identical on every rank (gathered by the metric); sync_dist only silences
            # Lightning's warning
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
        # the run's length (``needs_total_steps``: e.g. training.schedules.WarmupCosineLR)
        target = getattr(self.scheduler_factory, "func", self.scheduler_factory)
        extra = {}
        if getattr(target, "needs_total_steps", False) and "total_steps" not in getattr(
            self.scheduler_factory, "keywords", {}
        ):
            extra["total_steps"] = int(self.trainer.estimated_stepping_batches)
        scheduler = self.scheduler_factory(optimizer=optimizer, **extra)
        schedule = {"scheduler": scheduler, "interval": getattr(target, "interval", "epoch")}
        return {"optimizer": optimizer, "lr_scheduler": schedule}
