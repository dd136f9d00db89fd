"""Several classes: frame AP of each class on its own, and their mean.

The reference's frameAP evaluator (protocol §9.2) loops over the labels: a class's
detections are matched against that class's GT boxes only, in every video (a video without
GT of the class still holds false positives), and the reported figure is the mean of the
per-class APs. IOD-Video has one class, so its mean is that class's AP and nothing here runs
for it: a single-class model is scored exactly as before, with the same metric names.

With several classes every metric keeps its name for the mean over classes and gains one
``<metric>/<label>`` entry per class. A class with no GT box in the scored videos has no AP
(NaN); it is reported as such and left out of the mean (the reference would divide by zero).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from iodvideo.evaluation.metrics import (
    METRIC_NAMES,
    THRESHOLDS_50_95,
    VISIBILITIES,
    SplitMetrics,
    paper_metrics,
)

CLASS_SEPARATOR = "/"


def class_metric_name(metric: str, label: str) -> str:
    """``AP@0.5/steam``: the name of one class's value of ``metric``."""
    return f"{metric}{CLASS_SEPARATOR}{label}"


def mean_over_classes(per_class: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """``{metric: mean over classes with a finite value}`` followed by every class's own
    ``<metric>/<label>`` value; one class gives its metrics unchanged."""
    if len(per_class) == 1:
        return dict(next(iter(per_class.values())))
    names = list(dict.fromkeys(n for metrics in per_class.values() for n in metrics))
    out: dict[str, float] = {}
    for name in names:
        values = [m[name] for m in per_class.values() if math.isfinite(m.get(name, math.nan))]
        out[name] = float(np.mean(values)) if values else math.nan
    for label, metrics in per_class.items():
        for name in names:
            out[class_metric_name(name, label)] = float(metrics.get(name, math.nan))
    return out


def _mean_ap(per_class: Sequence[SplitMetrics]) -> dict[str, dict[float, float]]:
    """Per subset and threshold, the mean AP over the classes where it is defined."""
    first = per_class[0].ap
    out: dict[str, dict[float, float]] = {}
    for subset, by_threshold in first.items():
        out[subset] = {}
        for threshold in by_threshold:
            values = [m.ap[subset][threshold] for m in per_class
                      if math.isfinite(m.ap[subset][threshold])]
            out[subset][threshold] = float(np.mean(values)) if values else math.nan
    return out


def _has_gt(gt_boxes: Mapping[str, np.ndarray]) -> bool:
    return any(len(np.asarray(rows).reshape(-1, 5)) for rows in gt_boxes.values())


def _undefined(names: Sequence[str]) -> SplitMetrics:
    """A class without GT boxes in the scored videos: no AP is defined."""
    subsets = ("all", *VISIBILITIES)
    return SplitMetrics({name: math.nan for name in names},
                        {s: dict.fromkeys(THRESHOLDS_50_95, math.nan) for s in subsets})


def paper_metrics_by_class(
    detections: Sequence[Mapping[str, np.ndarray]],
    gt_boxes: Sequence[Mapping[str, np.ndarray]],
    labels: Sequence[str],
    rescore: bool = True,
    workers: int | None = None,
    names: Sequence[str] = METRIC_NAMES,
) -> SplitMetrics:
    """:func:`~iodvideo.evaluation.metrics.paper_metrics` of every class (``detections[c]``,
    ``gt_boxes[c]``: video → rows of class ``c``; every class lists the same videos) and
    their mean. One class: exactly ``paper_metrics``."""
    if not len(detections) == len(gt_boxes) == len(labels) or not labels:
        raise ValueError(f"{len(detections)} detection sets and {len(gt_boxes)} GT sets for "
                         f"{len(labels)} labels: give one of each per class")
    per_class = {label: paper_metrics(dets, gt, rescore, workers, names)
                 if len(labels) == 1 or _has_gt(gt) else _undefined(names)
                 for label, dets, gt in zip(labels, detections, gt_boxes, strict=True)}
    if len(per_class) == 1:
        return next(iter(per_class.values()))
    metrics = mean_over_classes({label: m.metrics for label, m in per_class.items()})
    return SplitMetrics(metrics, _mean_ap(list(per_class.values())), None, per_class)
