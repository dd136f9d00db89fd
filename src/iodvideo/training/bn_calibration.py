"""BatchNorm statistics recomputed for the current weights before every validation.

Why: evaluation normalises with BatchNorm's running statistics, an exponential average over
past training steps. When the weights move fast (short CPU runs, a high learning rate) those
averages describe networks of many steps ago, and the fusion neck's BatchNorms use momentum
0.01 (the reference's value), so after a few hundred steps their statistics are still mostly
their initial values. The evaluated network is then not the trained one: on one overfitted
batch the training-mode boxes reached mean IoU 0.964 while the eval-mode boxes reached 0.442;
with recomputed statistics eval mode gave 0.964 too (scripts/overfit_batch.py,
docs/learning.md). Recomputing the
statistics with the final weights over a few batches ("precise BN") costs a few forward
passes and removes that gap whatever the momentum.
"""

from __future__ import annotations

import pytorch_lightning as pl
import torch

# the recomputation itself lives with the models: test-time adaptation (inference) uses it too
from iodvideo.models.batchnorm_stats import recalibrate_batchnorm

__all__ = ["RecalibrateBatchNorm", "recalibrate_batchnorm"]


class RecalibrateBatchNorm(pl.Callback):
    """Before every validation, recompute BatchNorm statistics over ``num_batches`` training
    clips without augmentation (``datamodule.calibration_dataloader``), in the training
    precision. ``num_batches: 0`` turns it off (the running averages are used as they are)."""

    def __init__(self, num_batches: int = 16) -> None:
        self.num_batches = int(num_batches)

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.num_batches <= 0 or trainer.sanity_checking:
            return
        datamodule = trainer.datamodule
        loader = datamodule.calibration_dataloader(self.num_batches, seed=trainer.current_epoch)
        precision = trainer.precision_plugin

        def forward(batch: dict[str, torch.Tensor]) -> object:
            video = batch["video"].to(pl_module.device)
            with precision.forward_context():
                return pl_module(video)

        recalibrate_batchnorm(pl_module, loader, forward)  # the loader holds num_batches
