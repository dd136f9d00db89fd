"""Train/test splits for imported datasets: the user's own, or a seeded scene-level k-fold.

IOD-Video ships three splits whose test sets are disjoint and together cover every video
(protocol §1.3). An import reproduces that shape: split k tests fold k and trains on the rest.
Videos of one scene (one camera position, one site) look alike, so a video in train and its
sibling in test would flatter the scores; the k-fold therefore keeps a scene's videos in one
fold. The scene is read from the video name with a regex (group ``scene``); the default takes
the name without a trailing ``_<number>``, so ``harbour_cam2_007`` and ``harbour_cam2_012``
share scene ``harbour_cam2``. IOD-Video's own names (``079_factory_static_clear``) end in a
word, so every real video is its own scene, as in the published splits.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from iodvideo.errors import AnnotationError

DEFAULT_SCENE_PATTERN = r"(?P<scene>.+)_\d+"


@dataclass(frozen=True)
class SplitLists:
    """``train[k]`` / ``test[k]``: the video names of split k+1, in evaluation order.
    ``labels``: the label order a split file may give (the CSV export's side file does, since
    a CSV only names the labels its rows use, in the order they come up)."""

    train: list[list[str]]
    test: list[list[str]]
    labels: list[str] | None = None

    def to_json(self) -> dict[str, list[list[str]]]:
        return {"train": [list(s) for s in self.train], "test": [list(s) for s in self.test]}


def scene_of(video: str, pattern: str = DEFAULT_SCENE_PATTERN) -> str:
    """The scene key of ``video``: group ``scene`` of ``pattern`` fully matching the name's
    last path component; a name that does not match is its own scene."""
    base = video.rsplit("/", 1)[-1]
    match = re.fullmatch(pattern, base)
    return match.group("scene") if match else video


def kfold_splits(
    videos: Sequence[str], folds: int = 3, seed: int = 0, scene_pattern: str = DEFAULT_SCENE_PATTERN
) -> SplitLists:
    """``folds`` splits; split k tests fold k. Scenes are shuffled with ``seed``, then placed
    largest first into the fold with the fewest videos, so folds stay balanced. Lists keep
    the order of ``videos``."""
    try:
        compiled = re.compile(scene_pattern)
    except re.error as err:
        raise AnnotationError(f"scene pattern {scene_pattern!r} is not a regex ({err})") from None
    if "scene" not in compiled.groupindex:
        raise AnnotationError(f"scene pattern {scene_pattern!r} needs a group (?P<scene>...)")
    if folds < 2:
        raise AnnotationError(f"folds must be at least 2, got {folds}")
    scenes: dict[str, list[str]] = {}
    for video in videos:
        scenes.setdefault(scene_of(video, scene_pattern), []).append(video)
    if len(scenes) < folds:
        raise AnnotationError(
            f"{len(scenes)} scene(s) cannot fill {folds} folds (scene pattern "
            f"{scene_pattern!r}); give a split file (--splits) or fewer folds (--folds)"
        )
    keys = sorted(scenes)
    random.Random(seed).shuffle(keys)
    keys.sort(key=lambda k: -len(scenes[k]))  # stable: the shuffle breaks ties
    fold_of: dict[str, int] = {}
    sizes = [0] * folds
    for key in keys:
        fold = sizes.index(min(sizes))
        sizes[fold] += len(scenes[key])
        for video in scenes[key]:
            fold_of[video] = fold
    test = [[v for v in videos if fold_of[v] == k] for k in range(folds)]
    train = [[v for v in videos if fold_of[v] != k] for k in range(folds)]
    return SplitLists(train, test)


def read_splits_file(path: Path, videos: Sequence[str]) -> SplitLists:
    """A JSON split file: ``{"test": [[...], ...], "train": [[...], ...]}``; without
    ``train``, split k trains on every video not in ``test[k]``."""
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise AnnotationError(f"cannot read split file ({err})") from None
    except json.JSONDecodeError as err:
        raise AnnotationError(f"not JSON: {err.msg} at line {err.lineno} column {err.colno}"
                              ) from None
    return splits_from_json(raw, videos)


def splits_from_json(raw: object, videos: Sequence[str]) -> SplitLists:
    """Parse the split-file schema (also embedded as ``splits`` in COCO exports), with its
    optional ``labels``: the label names in pickle order (index = label id)."""
    if not isinstance(raw, dict) or not _lists_of_names(raw.get("test")):
        raise AnnotationError('expected {"test": [[video, ...], ...], "train": [...]} '
                              "(train optional), one list per split")
    test = [list(s) for s in raw["test"]]
    if "train" in raw:
        if not _lists_of_names(raw["train"]):
            raise AnnotationError('"train" must be one list of video names per split')
        train = [list(s) for s in raw["train"]]
    else:
        train = [[v for v in videos if v not in set(t)] for t in test]
    labels = raw.get("labels")
    if labels is not None and not (
        isinstance(labels, list) and labels and all(isinstance(x, str) and x for x in labels)
        and len(set(labels)) == len(labels)
    ):
        raise AnnotationError('"labels" must be a list of distinct label names (pickle order)')
    return SplitLists(train, test, labels)


def check_splits(
    splits: SplitLists, videos: set[str], report: Callable[[str, str], None], where: str
) -> None:
    """Report unknown names, a video in both train and test, and mismatched split counts."""
    if len(splits.train) != len(splits.test):
        report(where, f"{len(splits.train)} train lists but {len(splits.test)} test lists")
    for name, lists in (("train", splits.train), ("test", splits.test)):
        for k, members in enumerate(lists, start=1):
            unknown = [v for v in members if v not in videos]
            if unknown:
                report(where, f"{name} split {k} names unknown videos {unknown[:5]}")
            if len(set(members)) != len(members):
                report(where, f"{name} split {k} lists a video twice")
    for k, (train, test) in enumerate(zip(splits.train, splits.test, strict=False), start=1):
        both = sorted(set(train) & set(test))
        if both:
            report(where, f"split {k} has videos in both train and test {both[:5]}")
        if not test:
            report(where, f"split {k} has no test videos")


def _lists_of_names(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(
        isinstance(s, list) and all(isinstance(v, str) for v in s) for s in value
    )
