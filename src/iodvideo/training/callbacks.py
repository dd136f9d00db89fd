"""Training callbacks: validation frames with predicted and GT boxes, for every logger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import CSVLogger, TensorBoardLogger, WandbLogger
from torchvision.utils import draw_bounding_boxes, make_grid

GT_COLOUR = (0, 255, 0)
PRED_COLOUR = (255, 0, 0)


def render_key_frames(
    batch: dict[str, torch.Tensor], dets: torch.Tensor, clip_len: int, num_images: int
) -> torch.Tensor:
    """A ``(3, H', W')`` uint8 RGB grid of the first ``num_images`` clips' key frames with the
    GT box (green, object slot 0 when present) and the top-scoring predicted box (red).

    ``dets`` are the decoder's grid-unit tubelets ``(B, N, ≥4K+1)``, boxes first; boxes are
    scaled to the network input by input size / grid size. Of the target heatmap only its grid
    size is read, so any number of class channels works; the top box is drawn whatever its
    class.
    """
    video = batch["video"][:num_images].detach().float().cpu()  # (n, T, 3, S, S), normalised
    context = (video.shape[1] - clip_len) // 2
    key = clip_len // 2
    grid = batch["hm"].shape[-1]
    scale = video.shape[-1] / grid
    tiles = []
    for i in range(video.shape[0]):
        frame = video[i, context + key]
        lo, hi = frame.min(), frame.max()
        image = ((frame - lo) / (hi - lo + 1e-6) * 255).to(torch.uint8).flip(0)  # BGR → RGB
        boxes, colours = [], []
        if float(batch["mask"][i, 0]) > 0:
            cx, cy = batch["centers"][i, 0, 2 * key : 2 * key + 2].float().cpu()
            w, h = batch["wh"][i, 0, 2 * key : 2 * key + 2].float().cpu()
            boxes.append(torch.stack((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)))
            colours.append(GT_COLOUR)
        if dets.shape[1] > 0:
            boxes.append(dets[i, 0, 4 * key : 4 * key + 4].float().cpu())
            colours.append(PRED_COLOUR)
        if boxes:
            xyxy = (torch.stack(boxes) * scale).clamp(0, video.shape[-1] - 1)
            # an untrained size head can predict negative sizes: order the corners
            xyxy = torch.cat((torch.minimum(xyxy[:, :2], xyxy[:, 2:]),
                              torch.maximum(xyxy[:, :2], xyxy[:, 2:])), dim=1)
            image = draw_bounding_boxes(image, xyxy, colors=colours, width=1)
        tiles.append(image)
    return make_grid(tiles, nrow=len(tiles), padding=2)


class ValidationImages(pl.Callback):
    """Log ``num_images`` key frames of the first validation batch each epoch, with GT (green)
    and top predicted (red) boxes: TensorBoard ``add_image``, W&B ``log_image``, and a PNG under
    ``<csv log dir>/val_frames/`` for the CSV logger."""

    def __init__(self, num_images: int = 4, key: str = "val/frames") -> None:
        self.num_images = num_images
        self.key = key

    def on_validation_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any,
        batch_idx: int, dataloader_idx: int = 0,
    ) -> None:
        if batch_idx != 0 or trainer.sanity_checking or not trainer.is_global_zero:
            return
        if self.num_images <= 0 or not isinstance(outputs, dict) or "dets" not in outputs:
            return
        image = render_key_frames(batch, outputs["dets"], pl_module.detector.clip_len,
                                  self.num_images)
        step, epoch = trainer.global_step, trainer.current_epoch
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.experiment.add_image(self.key, image, global_step=step)
            elif isinstance(logger, WandbLogger):
                logger.log_image(key=self.key, images=[image.permute(1, 2, 0).numpy()],
                                 step=step, caption=[f"epoch {epoch}: GT green, predicted red"])
            elif isinstance(logger, CSVLogger):
                out = Path(logger.log_dir) / "val_frames" / f"epoch{epoch:03d}.png"
                out.parent.mkdir(parents=True, exist_ok=True)
                rgb = image.permute(1, 2, 0).numpy()
                cv2.imwrite(str(out), np.ascontiguousarray(rgb[..., ::-1]))
