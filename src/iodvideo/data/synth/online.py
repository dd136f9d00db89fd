"""Training clips rendered on the fly: every clip from a SynthIOD video never seen before.

Why: on a fixed set of a few dozen videos a CPU-sized detector learns the shortcut first — a
static camera keeps its plume in one place, so "this background → box here" fits the training
videos long before motion is learnt (a 96-video set: training heatmap loss 2.1 → 0.6 in three
epochs while AP on held-out videos stayed below 1 %, docs/learning.md). A generator can hand
out as many fresh videos as training wants: with a new scene, plume, camera and noise in every
clip, the only thing that predicts the box is the gas itself.

Each item renders a short video (K frames plus the backbone's context, after a random number
of warm-up frames so clips do not all start at the plume's first frame) in the worker that asks
for it, in memory, and goes through the same augmentation and targets as clips read from disk.
The per-clip seed comes from torch's RNG, which the DataLoader seeds differently in every
worker and which ``seed_everything`` makes reproducible.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
from torch.utils.data import Dataset

from iodvideo.data.augment import MOCAugment
from iodvideo.data.camera_augment import CameraEffects
from iodvideo.data.dataset import clip_item
from iodvideo.data.synth.config import SynthConfig
from iodvideo.data.synth.layout import SCENE_COUNTS, SCENES, VideoPlan
from iodvideo.data.synth.render import render_video
from iodvideo.data.transforms import ResizeNormalize

# entropy stream of on-the-fly videos: disjoint from the on-disk set's plan/split/video streams
STREAM_ONLINE = 7
STREAM_CAMERA = 8  # the training camera effects of a draw (data.camera_augment)
# ``label_by`` modes: SynthIOD's one class (None), or two classes by visibility, in the label
# order of scripts/relabel_by_visibility.py (a several-class task with SynthIOD's videos)
LABELS_BY = {None: ["gas"], "visibility": ["clear", "vague"]}


class OnlineSynthClips(Dataset):
    """``clips_per_epoch`` items per epoch, each a clip of a freshly rendered video drawn from
    ``config``'s mix (clear/vague, static/dynamic, scenes); the same item dict as
    :class:`iodvideo.data.dataset.ClipDataset` (``video_idx`` = -1: no on-disk video).
    ``label_by="visibility"`` makes the plume's class its visibility (0 clear, 1 vague)."""

    def __init__(
        self,
        config: SynthConfig,
        clips_per_epoch: int,
        transform: ResizeNormalize,
        clip_len: int,
        context: int = 0,
        max_objects: int = 128,
        augment: MOCAugment | None = None,
        max_warmup: int = 8,
        label_by: str | None = None,
        camera: CameraEffects | None = None,
    ) -> None:
        if clips_per_epoch < 1:
            raise ValueError(f"clips_per_epoch must be >= 1, got {clips_per_epoch}")
        if label_by not in LABELS_BY:
            raise ValueError(f"label_by must be one of {list(LABELS_BY)}, got {label_by!r}")
        self.label_by = label_by
        self.config = config
        self.clips_per_epoch = int(clips_per_epoch)
        self.transform = transform
        self.clip_len = clip_len
        self.context = context
        self.max_objects = max_objects
        self.augment = augment
        self.camera = camera
        self.max_warmup = int(max_warmup)
        weights = np.array([SCENE_COUNTS[s] for s in SCENES], dtype=np.float64)
        self._scene_p = weights / weights.sum()
        if config.backgrounds:  # unreadable footage: one line now, not in a DataLoader worker
            from iodvideo.data.synth.footage import check_backgrounds

            check_backgrounds(config)

    def __len__(self) -> int:
        return self.clips_per_epoch

    def plan(self, draw: int) -> tuple[VideoPlan, int]:
        """The video of draw ``draw`` (any 63-bit integer) and its warm-up frame count."""
        rng = np.random.default_rng([self.config.seed, STREAM_ONLINE, draw])
        clear_fraction, dynamic_fraction = self.config.mix()
        warmup = int(rng.integers(0, self.max_warmup + 1))
        plan = VideoPlan(
            index=1, scene=SCENES[int(rng.choice(len(SCENES), p=self._scene_p))],
            dynamic=bool(rng.random() < dynamic_fraction),
            clear=bool(rng.random() < clear_fraction),
            nframes=warmup + self.clip_len + 2 * self.context,
            height=self.config.height, width=self.config.width,
            entropy=(self.config.seed, STREAM_ONLINE, draw),
        )
        return plan, warmup

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        draw = int(torch.randint(0, 2**62, (1,)).item())  # a new video, whatever i is
        plan, warmup = self.plan(draw)
        frames: list[np.ndarray] = []
        tube = render_video(plan, self.config, lambda _number, grey: frames.append(grey))
        window = np.stack(frames[warmup:])  # K + 2·context frames, (T, H, W) grey
        bgr = np.repeat(window[..., None], 3, axis=-1)
        first = warmup + self.context  # 0-based index of the clip's first frame
        boxes = tube[first:first + self.clip_len, 1:5]
        labels = None if self.label_by is None else [0 if plan.clear else 1]
        item = clip_item(bgr, [boxes], self.transform, self.clip_len, self.max_objects,
                         self.augment, labels=labels, num_classes=len(LABELS_BY[self.label_by]),
                         camera=self.camera,
                         rng=np.random.default_rng([self.config.seed, STREAM_CAMERA, draw]))
        item["video_idx"] = torch.tensor(-1)
        item["start"] = torch.tensor(first + 1)
        item["image_hw"] = torch.tensor([plan.height, plan.width])
        return item


def online_config(synth: dict, **overrides: object) -> SynthConfig:
    """The SynthConfig of on-the-fly clips: the on-disk set's settings (``synth``) with
    ``overrides`` (e.g. another seed, so no training clip shares a video's randomness)."""
    return replace(SynthConfig(**synth), **overrides)
