"""The authors' published frame-AP of their released checkpoints (readme/Evaluation.md;
protocol §10), shown beside ours when ``eval`` scores one of those files.

Only TEA at K = 8 has numbers in the original repository (one checkpoint per split and loss:
``TEA_MOV_K8S1_model_last.pth`` … ``TEA_STA_K8S3_model_last.pth``); the other backbones'
figures appear only in the paper, produced with the original's quirks, so none is shown.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from iodvideo.evaluation.metrics import METRIC_NAMES

# (arch, decoding head, K) → split ("1", "2", "3", "avg") → the five metrics, percent
PUBLISHED: dict[tuple[str, str, int], dict[str, tuple[float, ...]]] = {
    ("tea", "mov", 8): {"1": (41.97, 8.10, 20.86, 11.21, 15.43),
                        "2": (41.36, 7.80, 22.86, 9.12, 14.96),
                        "3": (43.24, 10.08, 25.18, 9.51, 16.68),
                        "avg": (42.19, 8.66, 22.97, 9.95, 15.69)},
    ("tea", "sta", 8): {"1": (45.69, 9.15, 23.08, 11.92, 16.89),
                        "2": (41.47, 7.69, 22.39, 9.81, 15.11),
                        "3": (48.74, 11.15, 26.30, 11.60, 18.67),
                        "avg": (45.30, 9.33, 23.92, 11.11, 16.89)},
}


def published_rows(original: Mapping[str, Any] | None, splits: Sequence[int],
                   mode: str) -> dict[str, dict[str, float]]:
    """``{"published split s": metrics}`` for the scored splits (and "published avg" over all
    three) when ``original`` (a converted model's ``original`` config node) names a released
    model; empty otherwise. Warns when the file name's split (``…S2…``) is not the one scored:
    each released file was trained on its own split's training videos."""
    if not original:
        return {}
    table = PUBLISHED.get((str(original.get("arch")), mode, int(original.get("clip_len", 0))))
    if table is None:
        return {}
    named = re.search(r"K\d+S(\d)", str(original.get("file", "")))
    if named and any(str(s) != named.group(1) for s in splits):
        warnings.warn(f"{original.get('file')} is the split-{named.group(1)} model but split(s) "
                      f"{list(splits)} are scored: its training videos include test videos of "
                      "other splits", stacklevel=2)
    rows = {f"published split {s}": dict(zip(METRIC_NAMES, table[str(s)], strict=True))
            for s in splits if str(s) in table}
    if len(splits) > 1:
        rows["published avg"] = dict(zip(METRIC_NAMES, table["avg"], strict=True))
    return rows
