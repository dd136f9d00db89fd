"""Training losses: heatmap focal loss, masked L1 regression, and their weighted sum."""

from iodvideo.losses.criterion import CenterNetLoss
from iodvideo.losses.focal import focal_loss
from iodvideo.losses.regression import gather_at, reg_l1_loss

__all__ = ["CenterNetLoss", "focal_loss", "gather_at", "reg_l1_loss"]
