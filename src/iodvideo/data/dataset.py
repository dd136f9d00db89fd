"""A map-style dataset of clips: frames → tensors, tubes → targets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from iodvideo.data.annotations import Annotations
from iodvideo.data.augment import MOCAugment
from iodvideo.data.camera_augment import CameraEffects
from iodvideo.data.clips import Clip, clip_frames, clip_objects
from iodvideo.data.readers import FrameReader
from iodvideo.data.targets import build_targets
from iodvideo.data.transforms import ResizeNormalize
from iodvideo.errors import FrameReadError


class ClipDataset(Dataset):
    """One item per clip: ``video (K[+2c], 3, S, S)`` plus targets (protocol §4) and the
    bookkeeping evaluation needs (``video_idx``, 1-based ``start``, ``image_hw``).

    ``context`` extra frames per side are read (clamped) for backbones that need them (TDN);
    augmentation and targets always refer to the K clip frames' boxes: one object per tube
    present on all K frames (:func:`iodvideo.data.clips.clip_objects`; zero, one or several),
    splatted on the heatmap channel of its tube's class (``hm`` has one channel per entry of
    the pickle's ``labels``). A clip without one — its tubes cropped away by the augmentation
    (protocol §3), or an inference clip over a gap — keeps an all-zero heatmap and ``mask`` 0.
    ``frames`` (video → 1-based first and last frame): context frames are clamped to the
    video's range, as to a video cut there (data.frames).
    """

    def __init__(
        self,
        annotations: Annotations,
        clips: Sequence[Clip],
        reader: FrameReader,
        transform: ResizeNormalize,
        clip_len: int,
        context: int = 0,
        max_objects: int = 128,
        augment: MOCAugment | None = None,
        frames: Mapping[str, tuple[int, int]] | None = None,
        camera: CameraEffects | None = None,
    ) -> None:
        self.annotations = annotations
        self.frames = dict(frames or {})
        self.clips = list(clips)
        self.reader = reader
        self.transform = transform
        self.clip_len = clip_len
        self.context = context
        self.max_objects = max_objects
        self.augment = augment
        self.camera = camera

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        clip = self.clips[i]
        nframes = self.annotations.nframes[clip.video]
        image_hw = self.annotations.image_hw(clip.video)
        first, last = self.frames.get(clip.video, (1, nframes))
        frame_numbers = clip_frames(clip.start, self.clip_len, last, self.context, first)
        frames = self.reader.read(clip.video, frame_numbers, nframes)
        if frames.shape[1:3] != image_hw:
            raise FrameReadError(
                f"{self.reader.describe(clip.video)}: frames are {frames.shape[1]}x"
                f"{frames.shape[2]} but the annotation says {image_hw[0]}x{image_hw[1]}"
            )
        present, tubes = clip_objects(self.annotations.tubes(clip.video), clip.start,
                                      self.clip_len)
        tube_labels = self.annotations.tube_labels(clip.video)
        # camera effects draw from the worker's torch stream (seeded per worker and epoch by
        # Lightning), not from i: every epoch shows a clip through another camera
        rng = (np.random.default_rng(int(torch.randint(0, 2**62, (1,)).item()))
               if self.camera is not None else None)
        item = clip_item(frames, tubes, self.transform, self.clip_len, self.max_objects,
                         self.augment, labels=[tube_labels[t] for t in present],
                         num_classes=self.annotations.num_classes, camera=self.camera, rng=rng)
        item["video_idx"] = torch.tensor(clip.video_index)
        item["start"] = torch.tensor(clip.start)
        item["image_hw"] = torch.tensor(np.asarray(image_hw))
        return item


def clip_item(
    frames: np.ndarray,
    tubes: Sequence[np.ndarray],
    transform: ResizeNormalize,
    clip_len: int,
    max_objects: int = 128,
    augment: MOCAugment | None = None,
    labels: Sequence[int] | None = None,
    num_classes: int = 1,
    camera: CameraEffects | None = None,
    rng: np.random.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """Frames ``(T, H, W, 3)`` uint8 and the K clip frames' boxes of each tube (image pixels)
    → the normalised ``video`` tensor and its targets (augmented first if ``augment``).

    ``labels``: each tube's class (None: all class 0), ``num_classes``: heatmap channels. The
    augmentation's crop may drop tubes; their labels are dropped with them (``kept``)."""
    if labels is not None and len(labels) != len(tubes):
        raise ValueError(f"{len(labels)} labels for {len(tubes)} tubes: need one per tube")
    if camera is not None:  # training: IR camera effects on the raw frames, boxes unchanged
        frames = camera(frames, rng if rng is not None else np.random.default_rng())
    if augment is not None:
        augmented = augment(frames, list(tubes))
        frames, tubes = augmented.frames, augmented.tubes
        if labels is not None:
            labels = [labels[t] for t in augmented.kept]
    boxes_hw = frames.shape[1:3]
    grid_tubes = [transform.boxes(tube, boxes_hw) for tube in tubes]
    targets = build_targets(grid_tubes, clip_len, transform.grid_size, max_objects,
                            labels=labels, num_classes=num_classes)
    item = {key: torch.from_numpy(value) for key, value in targets.items()}
    item["video"] = torch.from_numpy(transform.frames(frames))
    return item
