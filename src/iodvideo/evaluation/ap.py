"""Average precision on the raw PR curve, the reference's trapezoid (protocol §9.2).

Two forms that give the same bits: :func:`average_precision` walks the whole curve,
:func:`ap_from_ranks` visits only the TP steps (FP steps add zero area), which is what lets
the evaluator score subsets of videos from one global ranking.
"""

from __future__ import annotations

import math

import numpy as np


def average_precision(tp: np.ndarray, num_gt: int) -> float:
    """Trapezoidal area under the raw PR curve of detections in score order (protocol §9.2).

    The curve starts at (P=1, R=0) and has one point per detection; it is neither interpolated
    (no VOC envelope) nor extended past the last recall, which is what the reference reports.
    Returns a fraction in [0, 1].
    """
    if num_gt <= 0:
        raise ValueError("average precision needs at least one ground-truth box (num_gt = 0)")
    tp = np.asarray(tp, dtype=bool)
    true_pos = np.cumsum(tp)
    precision = np.concatenate(([1.0], true_pos / np.arange(1, len(tp) + 1)))
    recall = np.concatenate(([0.0], true_pos / num_gt))
    # math.fsum is exactly rounded, so the sum does not depend on how many zero-width (FP)
    # steps there are: the fast path, which visits only the TP steps, gives the same bits.
    return math.fsum(np.diff(recall) * (precision[1:] + precision[:-1]) / 2)


def ap_from_ranks(ranks: np.ndarray, num_gt: int) -> float:
    """:func:`average_precision` from the 1-based ranks of the TPs in score order alone.

    FP steps add zero area, and the TP step at rank r after k − 1 earlier TPs goes from
    precision (k−1)/(r−1) (1 at the start) to k/r with recall (k−1)/G → k/G: the same
    floating-point terms as the full curve.
    """
    if num_gt <= 0:
        raise ValueError("average precision needs at least one ground-truth box (num_gt = 0)")
    ranks = np.sort(np.asarray(ranks, dtype=np.int64))
    k = np.arange(1, len(ranks) + 1)
    precision = k / ranks
    before = np.ones(len(ranks))
    later = ranks > 1
    before[later] = (k[later] - 1) / (ranks[later] - 1)
    recall_step = k / num_gt - (k - 1) / num_gt
    return math.fsum(recall_step * (precision + before) / 2)
