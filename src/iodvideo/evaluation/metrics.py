"""The five metrics the paper reports, per split and averaged (protocol §9.3, §10).

* AP@0.5, AP@0.75: frame AP at one IoU threshold on the split's test videos;
* AP@0.5:0.95: mean of the APs at 0.50, 0.55, …, 0.95;
* AP@clear, AP@vague: the 0.5:0.95 mean on the clear / vague test videos only.

The reference swaps subset pickles on disk for the last two; here the test list is filtered by
the ``_clear`` / ``_vague`` name suffix in memory (the same lists, tested against the subset
pickles), and all five come from one rescoring-and-matching pass. Values are in percent.

Every metric is one entry of :data:`METRICS` (name → function of the per-subset APs); training
logs the five plus AP@0.5 on clear / vague videos (``AP@0.5_clear``, ``AP@0.5_vague``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from iodvideo.evaluation.frame_ap import score_detections
from iodvideo.evaluation.scored import ScoredDetections

THRESHOLDS_50_95 = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
VISIBILITIES = ("clear", "vague")
# subset (all / clear / vague) → IoU threshold → AP (fraction; NaN for a subset without GT)
SubsetAP = dict[str, dict[float, float]]


def _ap_at(subset: str, threshold: float) -> Callable[[SubsetAP], float]:
    return lambda ap: 100.0 * ap[subset][threshold]


def _ap_50_95(subset: str) -> Callable[[SubsetAP], float]:
    return lambda ap: 100.0 * float(np.mean(list(ap[subset].values())))


# Every named metric (percent) from the per-subset APs: adding a metric is one entry here.
METRICS: dict[str, Callable[[SubsetAP], float]] = {
    "AP@0.5": _ap_at("all", 0.5),
    "AP@0.75": _ap_at("all", 0.75),
    "AP@clear": _ap_50_95("clear"),
    "AP@vague": _ap_50_95("vague"),
    "AP@0.5:0.95": _ap_50_95("all"),
    "AP@0.5_clear": _ap_at("clear", 0.5),
    "AP@0.5_vague": _ap_at("vague", 0.5),
}
# Column order of the paper's table (readme/Evaluation.md): what eval reports and averages.
METRIC_NAMES = ("AP@0.5", "AP@0.75", "AP@clear", "AP@vague", "AP@0.5:0.95")


def default_workers() -> int:
    """The CPUs this process may use, at most 4: the rescoring parallelises over videos."""
    import os

    try:
        return max(1, min(4, len(os.sched_getaffinity(0))))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, min(4, os.cpu_count() or 1))


def visibility_of(video: str) -> str | None:
    """``clear`` / ``vague`` from the video name suffix, ``None`` for other names."""
    for vis in VISIBILITIES:
        if video.endswith(f"_{vis}"):
            return vis
    return None


@dataclass
class SplitMetrics:
    """The five metrics (percent) of one split, plus what the reports need."""

    metrics: dict[str, float]
    ap: dict[str, dict[float, float]]  # subset (all/clear/vague) → threshold → AP (fraction)
    scored: ScoredDetections | None = field(default=None, repr=False)
    # several classes: each class's own metrics by label name (``metrics`` holds their mean)
    per_class: dict[str, SplitMetrics] = field(default_factory=dict, repr=False)


def paper_metrics(
    detections: Mapping[str, np.ndarray],
    gt_tubes: Mapping[str, np.ndarray],
    rescore: bool = True,
    workers: int | None = None,
    names: Sequence[str] = METRIC_NAMES,
) -> SplitMetrics:
    """The metrics ``names`` (default: the paper's five) on the videos of ``gt_tubes`` (a
    split's test set, in its order); ``workers``: processes for the rescoring and matching
    (see ``score_detections``)."""
    scored = score_detections(detections, gt_tubes, THRESHOLDS_50_95, rescore, workers=workers)
    return metrics_from_scored(scored, names)


def subset_ap(scored: ScoredDetections) -> SubsetAP:
    """AP at every threshold of 0.5:0.95 on all pooled videos and on the clear / vague ones
    (chosen by name suffix), from one rescoring-and-matching pass."""
    vis_label = np.array(
        [VISIBILITIES.index(v) if (v := visibility_of(name)) else -1 for name in scored.videos],
        dtype=np.int64,
    )
    row_labels = vis_label[scored.video] if len(scored.video) else np.empty(0, np.int64)
    gt_labels = np.repeat(vis_label, [len(f) for f in scored.gt_frames])
    by_vis = scored.ap_by_label(row_labels, [0, 1], THRESHOLDS_50_95, gt_labels)
    return {"all": {th: scored.ap(th) for th in THRESHOLDS_50_95},
            "clear": by_vis[0], "vague": by_vis[1]}


def metrics_from_scored(
    scored: ScoredDetections, names: Sequence[str] = METRIC_NAMES
) -> SplitMetrics:
    """The named :data:`METRICS` of scored detections (scored at all of 0.5:0.95)."""
    unknown = [n for n in names if n not in METRICS]
    if unknown:
        raise KeyError(f"unknown metric(s) {unknown}; known: {', '.join(METRICS)}")
    ap = subset_ap(scored)
    return SplitMetrics({name: METRICS[name](ap) for name in names}, ap, scored)


def mean_over_splits(per_split: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """The paper's "avg" row: the plain mean of each metric over the splits."""
    if not per_split:
        return {}
    return {name: float(np.mean([m[name] for m in per_split])) for name in per_split[0]}
