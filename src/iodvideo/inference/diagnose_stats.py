"""The numbers of a diagnosis (:mod:`iodvideo.inference.diagnose`): matching kept boxes to
the GT, localisation rates, heatmap statistics, box sizes and the false-positive categories."""

from __future__ import annotations

from typing import Any

import numpy as np

from iodvideo.detections.iou import iou_plus1

# What a false positive sits on: inside a GT box, else a scene label (diagnose_scene.LABELS).
CATEGORIES = ("gt_box", "letterbox", "text", "sky", "moving_warm", "vegetation", "edges",
              "other")


def match(rows: np.ndarray, gt: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the best IoU with a GT box of its frame (0 without one) and whether its
    centre lies inside one of them."""
    iou, inside = np.zeros(len(rows)), np.zeros(len(rows), bool)
    for i, row in enumerate(rows):
        boxes = gt.get(int(row[0]))
        if boxes is None or not len(boxes):
            continue
        iou[i] = float(np.nan_to_num(iou_plus1(row[2:6], boxes)).max())
        cx, cy = (row[2] + row[4]) / 2, (row[3] + row[5]) / 2
        inside[i] = bool(((boxes[:, 0] <= cx) & (cx <= boxes[:, 2]) & (boxes[:, 1] <= cy)
                          & (cy <= boxes[:, 3])).any())
    return iou, inside


def heat_of_frame(frame: int, key_frames: np.ndarray) -> int:
    """Index of the heatmap whose key frame is nearest ``frame``."""
    return int(np.argmin(np.abs(key_frames - frame)))


def pct(part: float, whole: float) -> float:
    return round(100.0 * part / whole, 2) if whole else float("nan")


def localisation(rows: np.ndarray, iou: np.ndarray, inside: np.ndarray, gt_frames: list[int],
                 threshold: float) -> dict[str, Any]:
    """Rates over the frames with GT: top-1 centre inside / IoU ≥ threshold, best of top-k."""
    top1, best, any_in = {}, {}, {}
    for r, row in enumerate(rows):
        f = int(row[0])
        best[f] = max(best.get(f, 0.0), iou[r])
        any_in[f] = any_in.get(f, False) or bool(inside[r])
        if row[1] == 1:
            top1[f] = (iou[r], bool(inside[r]))
    n = len(gt_frames)
    ious = np.array([top1.get(f, (0.0, False))[0] for f in gt_frames])
    bests = np.array([best.get(f, 0.0) for f in gt_frames])
    return {
        "frames_with_gt": n,
        "top1_centre_in_gt_pct": pct(sum(top1.get(f, (0, False))[1] for f in gt_frames), n),
        "top1_iou_ge_threshold_pct": pct(float((ious >= threshold).sum()), n),
        "top1_iou_mean": round(float(ious.mean()), 4) if n else float("nan"),
        "top1_iou_median": round(float(np.median(ious)), 4) if n else float("nan"),
        "topk_best_iou_mean": round(float(bests.mean()), 4) if n else float("nan"),
        "topk_best_iou_ge_threshold_pct": pct(float((bests >= threshold).sum()), n),
        "topk_any_centre_in_gt_pct": pct(sum(any_in.get(f, False) for f in gt_frames), n),
    }


def oracles(rows: np.ndarray, gt: dict[int, np.ndarray], threshold: float) -> dict[str, Any]:
    """Which half of the box is wrong, over the frames with GT (no top-1 box counts as a miss):
    the top-1 centre with the GT's size (``gt_size``), and the top-1 size at the GT's centre
    (``gt_centre``), each against the GT box nearest the top-1 centre."""
    top1 = {int(r[0]): r[2:6] for r in rows if r[1] == 1}
    sized, centred = [], []
    for f, boxes in gt.items():
        box = top1.get(f)
        if box is None:
            sized.append(0.0)
            centred.append(0.0)
            continue
        centre, half = (box[:2] + box[2:]) / 2, (box[2:] - box[:2]) / 2
        g = boxes[np.argmin(np.abs((boxes[:, :2] + boxes[:, 2:]) / 2 - centre).sum(1))]
        g_centre, g_half = (g[:2] + g[2:]) / 2, (g[2:] - g[:2]) / 2
        sized.append(float(iou_plus1(np.r_[centre - g_half, centre + g_half], g)[0]))
        centred.append(float(iou_plus1(np.r_[g_centre - half, g_centre + half], g)[0]))
    sized_a, centred_a = np.nan_to_num(np.array(sized)), np.nan_to_num(np.array(centred))
    n = len(sized)
    wh = np.array([b[2:] - b[:2] for b in top1.values()]).reshape(-1, 2)
    aspect = float(np.median(wh[:, 0] / np.maximum(wh[:, 1], 1e-6))) if len(wh) else 1.0
    ceiling = np.array([aspect_ceiling(b, aspect) for boxes in gt.values() for b in boxes])
    return {"top1_with_gt_size_iou_ge_threshold_pct": pct(float((sized_a >= threshold).sum()), n),
            "top1_with_gt_size_iou_mean": round(float(sized_a.mean()), 4) if n else float("nan"),
            "top1_at_gt_centre_iou_ge_threshold_pct": pct(float((centred_a >= threshold).sum()),
                                                          n),
            "top1_at_gt_centre_iou_mean": round(float(centred_a.mean()), 4) if n else float("nan"),
            "top1_aspect_w_h": round(aspect, 3),
            "top1_aspect_iou_ceiling_mean": round(float(ceiling.mean()), 4) if n else float("nan"),
            "top1_aspect_iou_ceiling_ge_threshold_pct": pct(float((ceiling >= threshold).sum()),
                                                            len(ceiling))}


def aspect_ceiling(gt_box: np.ndarray, aspect: float) -> float:
    """The best IoU a box of width/height ``aspect`` can reach with ``gt_box``: centred on
    it, at the best of 400 sizes (heights 5 %..400 % of the GT's). Boxes whose aspect is far
    from the GT's never reach 0.5, wherever and however large they are."""
    if not np.isfinite(aspect) or aspect <= 0:
        return 0.0
    centre, height = (gt_box[:2] + gt_box[2:]) / 2, max(float(gt_box[3] - gt_box[1]), 1e-6)
    heights = np.linspace(0.05, 4.0, 400) * height
    half = np.column_stack([aspect * heights, heights]) / 2
    boxes = np.column_stack([centre - half, centre + half])
    return float(np.nan_to_num(iou_plus1(gt_box, boxes)).max())


def heat_statistics(heat: np.ndarray, key_frames: np.ndarray, gt: dict[int, np.ndarray],
                    image_hw: tuple[int, int]) -> dict[str, Any]:
    """Over the frames with GT: how often the heatmap's peak lies inside the GT, its share of
    heat inside the GT vs the GT's share of the picture (lift = their ratio)."""
    h, w = heat.shape[1:]
    xs = np.arange(w) * image_hw[1] / w
    ys = np.arange(h) * image_hw[0] / h
    peaks, masses, areas = [], [], []
    for f, boxes in gt.items():
        cells = np.zeros((h, w), bool)
        for x1, y1, x2, y2 in boxes:
            cells |= ((ys >= y1) & (ys <= y2))[:, None] & ((xs >= x1) & (xs <= x2))[None, :]
        hm = heat[heat_of_frame(f, key_frames)].astype(np.float64)
        peaks.append(bool(cells.flat[int(np.argmax(hm))]))
        masses.append(hm[cells].sum() / max(hm.sum(), 1e-12))
        areas.append(cells.mean())
    mass, area = float(np.mean(masses)) if masses else 0.0, float(np.mean(areas)) if areas else 0.0
    return {"peak_in_gt_pct": pct(sum(peaks), len(peaks)),
            "heat_mass_in_gt_pct": round(100 * mass, 2), "gt_area_pct": round(100 * area, 2),
            "lift": round(mass / area, 3) if area else float("nan"),
            "max_mean": round(float(heat.reshape(len(heat), -1).max(1).mean()), 4)}


def median_size(wh: np.ndarray) -> dict[str, float]:
    if not len(wh):
        return {}
    w, h = np.median(wh[:, 0]), np.median(wh[:, 1])
    aspect = np.median(wh[:, 0] / np.maximum(wh[:, 1], 1e-6))
    return {"w": round(float(w), 1), "h": round(float(h), 1), "aspect_w_h": round(float(aspect), 3)}


def size_statistics(rows: np.ndarray, gt: dict[int, np.ndarray], image_hw: tuple[int, int],
                    input_size: int) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """Medians of width, height and aspect of top-1 and GT boxes, in the video's pixels and in
    the model's square input; also returns the top-1 and GT ``(w, h)`` arrays."""
    top1 = rows[rows[:, 1] == 1]
    pred_wh = np.column_stack([top1[:, 4] - top1[:, 2], top1[:, 5] - top1[:, 3]])
    gt_boxes = np.concatenate(list(gt.values())) if gt else np.zeros((0, 4))
    gt_wh = np.column_stack([gt_boxes[:, 2] - gt_boxes[:, 0], gt_boxes[:, 3] - gt_boxes[:, 1]])
    to_input = np.array([input_size / image_hw[1], input_size / image_hw[0]])
    out: dict[str, Any] = {"top1": median_size(pred_wh), "gt": median_size(gt_wh),
                           "top1_in_input": median_size(pred_wh * to_input),
                           "gt_in_input": median_size(gt_wh * to_input)}
    if len(pred_wh) and len(gt_wh):
        ratio = np.prod(np.median(pred_wh, 0)) / max(np.prod(np.median(gt_wh, 0)), 1e-6)
        out["area_ratio_top1_to_gt"] = round(float(ratio), 3)
    return out, pred_wh, gt_wh


def fp_statistics(rows: np.ndarray, fp: np.ndarray, category: list[str]) -> dict[str, Any]:
    """Count and share of FP score mass per category, for all kept FPs and for rank 1 only."""
    def shares(select: np.ndarray) -> tuple[dict[str, float], dict[str, int], float]:
        scores, cats = rows[select, 6], [c for c, s in zip(category, select, strict=True) if s]
        total = float(scores.sum())
        mass = {c: float(sum(s for s, k in zip(scores, cats, strict=True) if k == c))
                for c in CATEGORIES}
        return ({c: round(m / total, 4) if total else 0.0 for c, m in mass.items()},
                {c: cats.count(c) for c in CATEGORIES}, total)

    share, count, total = shares(fp)
    top_share, top_count, _ = shares(fp & (rows[:, 1] == 1))
    return {"count": int(fp.sum()), "score_mass": round(total, 4), "shares": share,
            "counts": count, "top1_shares": top_share, "top1_counts": top_count}
