"""COCO results export of one predicted video (``predict coco_results=true``).

Kept apart from the ``predict`` CLI because it is a format of its own: which boxes go out
(every box the evaluator scores, or only the shown rows), how frames become COCO image ids
(the numbering of ``python -m iodvideo.data.convert --to coco``) and how boxes and classes
are written, so that pycocotools' COCOeval scores what ``gt=``'s frameAP scores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from iodvideo.inference.stream.offline import VideoPrediction

# which boxes detections.coco.json holds (predict's coco_boxes)
COCO_BOXES = ("scored", "shown")


def scored_rows(pred: VideoPrediction) -> tuple[np.ndarray, np.ndarray]:
    """Every box frameAP scores, with the score it ranks by, and its class: the merged rows
    of all clips (``pred.merged``, kept with ``keep_all``), each frame rescored class by class
    (§9.1 step 2, :func:`~iodvideo.detections.rescore.rescore_detections`), exactly what
    ``gt=``'s metrics (and ``eval``) score; by frame, then score descending."""
    from iodvideo.detections.rescore import rescore_detections

    if pred.merged is None:
        raise ValueError("the scored boxes need the merged rows (predict_video keep_all=True)")
    names = pred.class_names or ["gas"]
    classes = range(len(names)) if pred.merged_labels is not None else [0]
    parts = [rescore_detections(pred.merged_of(c)) for c in classes]
    rows = np.concatenate([*parts, np.empty((0, 6))])
    labels = np.concatenate([np.full(len(p), c, dtype=np.int64)
                             for c, p in zip(classes, parts, strict=True)] + [np.empty(0, int)])
    order = np.lexsort((-rows[:, 5], rows[:, 0]))
    return rows[order], labels[order]


def coco_results(pred: VideoPrediction, first_image_id: int = 1,
                 boxes: str = "scored", max_per_frame: int = 100) -> list[dict[str, Any]]:
    """Detections as COCO results: frame ``f`` is image ``first_image_id + f - 1``, ``bbox``
    is ``[x1, y1, x2 - x1, y2 - y1]`` and ``category_id`` the class index + 1 (the
    conventions of ``convert --to coco``).

    ``boxes="scored"``: the boxes the evaluator scores (:func:`scored_rows`, scores unrounded
    so the ranking is the evaluator's), the best ``max_per_frame`` of each frame and class (0:
    all; 100 is what COCOeval's default ``maxDets`` keeps of each image anyway): what COCOeval
    needs to score the same detections as our frameAP (``tests/test_predict_coco.py`` says
    how close the two numbers come and why they differ). ``"shown"``: only
    ``detections.csv``'s rows (``keep_per_frame`` per frame), which scores lower: every other
    candidate box of a frame is missing."""
    if boxes not in COCO_BOXES:
        raise ValueError(f"boxes must be one of {COCO_BOXES}, got {boxes!r}")
    if boxes == "shown":
        rows, labels = pred.shown, pred.labels_of_shown()

        def score(value: float) -> float:
            return round(value, 6)
    else:
        rows, labels = scored_rows(pred)
        if max_per_frame > 0 and len(rows):  # rows: by frame, then score descending
            keys = rows[:, 0].astype(np.int64) * (int(labels.max()) + 1) + labels
            order = np.argsort(keys, kind="stable")
            rank = np.empty(len(rows), np.int64)
            sorted_keys = keys[order]
            rank[order] = np.arange(len(rows)) - np.searchsorted(sorted_keys, sorted_keys)
            keep = rank < max_per_frame
            rows, labels = rows[keep], labels[keep]

        def score(value: float) -> float:
            return value
    return [{"image_id": first_image_id + int(row[0]) - 1, "category_id": int(label) + 1,
             "bbox": [round(float(v), 2) for v in (row[1], row[2], row[3] - row[1],
                                                   row[4] - row[2])],
             "score": score(float(row[5]))}
            for row, label in zip(rows, labels, strict=True)]


def write_coco_results(out_dir: Path, pred: VideoPrediction,
                       gt: tuple[Any, str] | None, boxes: str = "scored",
                       max_per_frame: int = 100) -> str:
    """``detections.coco.json`` (``boxes``, ``max_per_frame``: see :func:`coco_results`); ids as
    ``python -m iodvideo.data.convert <gt> --to coco`` numbers this video's frames when ``gt``
    holds it, else the frame number (what that export gives for a pickle of this video
    alone). Returns which numbering was used."""
    first, numbering = 1, "frame number"
    if gt is not None:
        from iodvideo.data.formats.coco import coco_first_image_ids

        annotations, key = gt
        first = coco_first_image_ids(annotations)[key]
        numbering = f"{annotations.path} --to coco, video {key}"
    results = coco_results(pred, first, boxes, max_per_frame)
    (out_dir / "detections.coco.json").write_text(json.dumps(results))
    return numbering
