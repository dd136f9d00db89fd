"""What the dataset is made of, before any pixel: video names, frame counts, splits, pickles.

Everything here mirrors IOD-Video's annotation format (protocol §1) so the same
loader, sampler and evaluator read SynthIOD and the real data: video keys
``TrueLeakedGas/NNN_<scene>_<static|dynamic>_<clear|vague>``, one float32 tube per video
covering frames 1..nframes, three train/test splits whose test sets partition the videos,
and clear/vague subset pickles. Pickles hold only plain containers, Python ints/strs and
numpy arrays, so a restricted unpickler accepts them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from iodvideo.data.annotations import dump_annotation_pickle
from iodvideo.data.synth.config import SynthConfig

CLASS_NAME = "TrueLeakedGas"
NUM_SPLITS = 3
# Scene names and their frequency in IOD-Video (protocol §1.4).
SCENE_COUNTS = {
    "valve": 123, "experiment": 121, "others": 86, "pipeline": 76,
    "flange": 62, "factory": 51, "cylinder": 49, "wild": 32,
}
SCENES = tuple(SCENE_COUNTS)

# Stream ids for np.random.default_rng([seed, stream, ...]): independent, reproducible draws.
STREAM_PLAN = 0
STREAM_SPLITS = 1
STREAM_VIDEO = 2


@dataclass(frozen=True)
class VideoPlan:
    """One video to render: its identity, length and (in ``trajectories=real``) target boxes."""

    index: int
    scene: str
    dynamic: bool
    clear: bool
    nframes: int
    height: int
    width: int
    entropy: tuple[int, ...]
    target_boxes: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def stem(self) -> str:
        motion = "dynamic" if self.dynamic else "static"
        visibility = "clear" if self.clear else "vague"
        return f"{self.index:03d}_{self.scene}_{motion}_{visibility}"

    @property
    def name(self) -> str:
        """The video key used in the pickle and as the frame folder below ``Frames/``."""
        return f"{CLASS_NAME}/{self.stem}"


def exact_flags(count: int, fraction: float, rng: np.random.Generator) -> np.ndarray:
    """``count`` booleans of which exactly round(count * fraction) are True, in random order.

    Exact counts (not independent coin flips) keep tiny sets balanced: 4 videos always give
    2 clear and 2 vague, so both subset pickles exist.
    """
    flags = np.zeros(count, dtype=bool)
    flags[: int(round(count * fraction))] = True
    rng.shuffle(flags)
    return flags


def plan_synthetic(config: SynthConfig) -> list[VideoPlan]:
    """Draw names, scene, motion, visibility and length for ``config.num_videos`` videos."""
    rng = np.random.default_rng([config.seed, STREAM_PLAN])
    n = config.num_videos
    clear_fraction, dynamic_fraction = config.mix()
    clear = exact_flags(n, clear_fraction, rng)
    dynamic = exact_flags(n, dynamic_fraction, rng)
    weights = np.array(list(SCENE_COUNTS.values()), dtype=np.float64)
    scenes = rng.choice(len(SCENES), size=n, p=weights / weights.sum())
    lengths = rng.integers(config.min_frames, config.max_frames, size=n, endpoint=True)
    return [
        VideoPlan(
            index=i + 1, scene=SCENES[int(scenes[i])], dynamic=bool(dynamic[i]),
            clear=bool(clear[i]), nframes=int(lengths[i]), height=config.height,
            width=config.width, entropy=(config.seed, STREAM_VIDEO, i + 1),
        )
        for i in range(n)
    ]


def partition_splits(
    plans: Sequence[VideoPlan], seed: int
) -> tuple[list[list[str]], list[list[str]]]:
    """Three train/test splits whose test sets are disjoint and cover every video.

    Videos are shuffled, grouped by (visibility, motion) and dealt round-robin into the three
    folds, so every fold gets a share of each kind; fold s is the test set of split s and the
    other two folds (in shuffled order) its training set.
    """
    if len(plans) < NUM_SPLITS:
        raise ValueError(f"need at least {NUM_SPLITS} videos for {NUM_SPLITS} splits")
    rng = np.random.default_rng([seed, STREAM_SPLITS])
    order = [plans[int(i)] for i in rng.permutation(len(plans))]
    order.sort(key=lambda p: (p.clear, p.dynamic))  # stable: shuffled within each group
    start = int(rng.integers(NUM_SPLITS))
    folds: list[list[str]] = [[] for _ in range(NUM_SPLITS)]
    for position, plan in enumerate(order):
        folds[(start + position) % NUM_SPLITS].append(plan.name)
    test = [[fold[int(i)] for i in rng.permutation(len(fold))] for fold in folds]
    train = []
    for s in range(NUM_SPLITS):
        rest = [name for t, fold in enumerate(test) if t != s for name in fold]
        train.append([rest[int(i)] for i in rng.permutation(len(rest))])
    return train, test


def build_annotations(
    plans: Sequence[VideoPlan],
    tubes: Mapping[str, np.ndarray],
    train: list[list[str]],
    test: list[list[str]],
) -> dict:
    """The annotation dict with the real pickle's keys, in its order, with plain types."""
    gttubes = {p.name: {0: [np.ascontiguousarray(tubes[p.name], dtype=np.float32)]}
               for p in plans}
    return {
        "labels": [CLASS_NAME],
        "gttubes": gttubes,
        "nframes": {p.name: int(p.nframes) for p in plans},
        "train_videos": [list(map(str, s)) for s in train],
        "test_videos": [list(map(str, s)) for s in test],
        "resolution": {p.name: (int(p.height), int(p.width)) for p in plans},
    }


def subset_annotations(annotations: dict, keep: set[str]) -> dict:
    """The same schema restricted to ``keep``: split lists filtered, order preserved."""
    return {
        "labels": list(annotations["labels"]),
        "gttubes": {v: t for v, t in annotations["gttubes"].items() if v in keep},
        "nframes": {v: n for v, n in annotations["nframes"].items() if v in keep},
        "train_videos": [[v for v in s if v in keep] for s in annotations["train_videos"]],
        "test_videos": [[v for v in s if v in keep] for s in annotations["test_videos"]],
        "resolution": {v: r for v, r in annotations["resolution"].items() if v in keep},
    }


def write_annotations(root: Path, annotations: dict) -> Path:
    """Write ``TrueLeakedGas.pkl`` and the non-empty clear/vague subset pickles; return the main.

    Subset names follow the real ones (``TrueLeakedGas_c1_290.pkl``: c/v, 1, member count).
    """
    main = root / f"{CLASS_NAME}.pkl"
    dump_annotation_pickle(annotations, main)
    for tag, suffix in (("c1", "_clear"), ("v1", "_vague")):
        keep = {v for v in annotations["nframes"] if v.endswith(suffix)}
        if keep:
            dump_annotation_pickle(subset_annotations(annotations, keep),
                                   root / f"{CLASS_NAME}_{tag}_{len(keep)}.pkl")
    return main
