"""Per-worker, per-epoch augmentation seeds: reproducible runs, workers and epochs differ."""

import pickle

import cv2
import numpy as np
import pytorch_lightning as pl
import torch

from iodvideo.data.augment import MOCAugment
from iodvideo.data.datamodule import IODVideoDataModule

VIDEO = "TrueLeakedGas/001_wild_static_clear"


def _root(tmp_path):
    """A video whose frames and boxes never change: every clip is the same before augmentation."""
    folder = tmp_path / "Frames" / VIDEO
    folder.mkdir(parents=True)
    image = np.zeros((32, 40, 3), np.uint8)
    image[8:20, 10:30] = 200
    for f in range(1, 11):
        cv2.imwrite(str(folder / f"{f:05d}.png"), image)
    tube = np.array([[f, 10, 8, 29, 19] for f in range(1, 11)], np.float32)
    ann = {
        "labels": ["TrueLeakedGas"], "nframes": {VIDEO: 10}, "resolution": {VIDEO: (32, 40)},
        "train_videos": [[VIDEO]], "test_videos": [[]], "gttubes": {VIDEO: {0: [tube]}},
    }
    (tmp_path / "TrueLeakedGas.pkl").write_bytes(pickle.dumps(ann))
    return tmp_path


def _epochs(root, seed, epochs=2):
    pl.seed_everything(seed, workers=True)
    datamodule = IODVideoDataModule(
        str(root), clip_len=2, input_size=16, batch_size=1, num_workers=2, augment=MOCAugment()
    )
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    return [torch.cat([batch["video"] for batch in loader]) for _ in range(epochs)]


def test_runs_repeat_and_workers_and_epochs_differ(tmp_path):
    root = _root(tmp_path)
    first, again = _epochs(root, 7), _epochs(root, 7)
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))  # reproducible
    epoch0, epoch1 = first
    assert not torch.equal(epoch0[0], epoch0[1])  # consecutive items come from both workers
    assert not torch.equal(epoch0, epoch1)  # a new epoch draws new augmentations
    other = _epochs(root, 8, epochs=1)[0]
    assert not torch.equal(other, epoch0)
