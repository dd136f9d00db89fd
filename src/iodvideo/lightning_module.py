"""LightningModule: the training step, and frame-level AP as the validation metric."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

from iodvideo.evaluation import frame_ap_at
from iodvideo.inference.decode import boxes_to_image, decode_mov
from iodvideo.inference.merge import clips_to_frame_detections

# Checkpoint key under which the training run's resolved config travels.
CONFIG_KEY = "iodvideo_config"


class IODLitModule(pl.LightningModule):
    """Wraps a clip detector and its criterion.

    Validation decodes every test clip (MOV mode, notes §8), merges clips into per-frame
    detections and scores frameAP with the paper's protocol (notes §9) at each threshold in
    ``iou_thresholds``; the metrics are logged as ``val/frameAP@<th>`` in percent.
    """

    def __init__(
        self,
        detector: nn.Module,
        criterion: nn.Module,
        optimizer: Callable[..., torch.optim.Optimizer],
        scheduler: Callable[..., torch.optim.lr_scheduler.LRScheduler] | None = None,
        top_n: int = 100,
        iou_thresholds: Sequence[float] = (0.5,),
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
        self._clip_detections: dict[int, dict[int, np.ndarray]] = defaultdict(dict)

    def forward(self, video: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.detector(video)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        losses = self.criterion(self.detector(batch["video"]), batch)
        batch_size = batch["video"].shape[0]
        self.log("train/loss", losses["loss"], prog_bar=True, batch_size=batch_size)
        self.log_dict(
            {f"train/{k}": v for k, v in losses.items() if k != "loss"},
            on_step=False, on_epoch=True, batch_size=batch_size,
        )
        return losses["loss"]

    def on_validation_epoch_start(self) -> None:
        self._clip_detections = defaultdict(dict)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        out = self.detector(batch["video"])
        dets = decode_mov(torch.sigmoid(out["hm"]), out["wh"], out["mov"], self.top_n)
        grid_hw = tuple(out["hm"].shape[-2:])
        for det, video_idx, start, image_hw in zip(
            dets.cpu(), batch["video_idx"].tolist(), batch["start"].tolist(),
            batch["image_hw"].tolist(), strict=True,
        ):
            image = boxes_to_image(det, grid_hw, tuple(image_hw))
            self._clip_detections[video_idx][start] = image.numpy()

    def on_validation_epoch_end(self) -> None:
        videos, ground_truth = self.trainer.datamodule.eval_ground_truth()
        clip_len = self.detector.clip_len
        detections = {
            videos[vi]: clips_to_frame_detections(clips, clip_len)
            for vi, clips in self._clip_detections.items()
        }
        self._clip_detections = defaultdict(dict)
        if not detections:
            return
        aps = frame_ap_at(detections, ground_truth, self.iou_thresholds)
        self.log_dict({f"val/frameAP@{th:g}": 100.0 * ap for th, ap in aps.items()})

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the run's resolved config (plain containers) so that eval/predict can rebuild
        the model from the checkpoint alone; it loads fine with ``weights_only=True``."""
        if self.config is not None:
            checkpoint[CONFIG_KEY] = self.config

    def configure_optimizers(self) -> dict:
        optimizer = self.optimizer_factory(params=self.parameters())
        if self.scheduler_factory is None:
            return {"optimizer": optimizer}
        scheduler = self.scheduler_factory(optimizer=optimizer)
        schedule = {"scheduler": scheduler, "interval": "epoch"}
        return {"optimizer": optimizer, "lr_scheduler": schedule}
