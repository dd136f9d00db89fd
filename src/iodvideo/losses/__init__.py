"""Training losses: heatmap focal loss, masked L1 regression, STAloss and their weighted sum."""

from iodvideo.losses.criterion import CenterNetLoss, key_peak, sta_centres
from iodvideo.losses.focal import focal_loss
from iodvideo.losses.regression import reg_l1_loss, reg_relative_l1_loss
from iodvideo.losses.sta import STALoss, STALossTerms, sta_loss, sta_pair_terms

__all__ = [
    "CenterNetLoss",
    "STALoss",
    "STALossTerms",
    "focal_loss",
    "key_peak",
    "reg_l1_loss",
    "reg_relative_l1_loss",
    "sta_centres",
    "sta_loss",
    "sta_pair_terms",
]
