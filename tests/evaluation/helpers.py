"""Builders shared by the evaluation tests: random detection sets and tiny annotation pickles."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np


def random_case(rng: np.random.Generator, ties: bool, integer_boxes: bool):
    """A few videos with 0-3 GT boxes per frame, jittered and random detections, some on
    frames without GT; optionally rounded scores (many ties) and integer boxes."""
    gt, dets = {}, {}
    for v in range(int(rng.integers(1, 4))):
        nframes = int(rng.integers(1, 8))
        rows = []
        for f in range(1, nframes + 1):
            for _ in range(int(rng.choice([0, 1, 1, 1, 2, 3]))):
                x, y = rng.uniform(0, 60, 2)
                rows.append((f, x, y, x + rng.uniform(5, 20), y + rng.uniform(5, 20)))
        gt[f"v{v}"] = np.array(rows, dtype=np.float64).reshape(-1, 5)
        det_rows = []
        for row in gt[f"v{v}"]:
            for _ in range(int(rng.integers(0, 5))):
                noise = rng.normal(0, rng.choice([0.5, 3.0]), 4)
                det_rows.append((row[0], *(row[1:5] + noise), rng.uniform()))
        for _ in range(int(rng.integers(0, 30))):
            x, y = rng.uniform(0, 60, 2)
            det_rows.append((rng.integers(1, nframes + 3), x, y, x + 10, y + 10, rng.uniform()))
        d = np.array(det_rows, dtype=np.float64).reshape(-1, 6)
        if ties:
            d[:, 5] = np.round(d[:, 5], 1)
        if integer_boxes:
            d[:, 1:5] = np.round(d[:, 1:5])
        dets[f"v{v}"] = d
    return dets, gt


def write_annotations(path: Path, tubes: dict[str, np.ndarray], test: list[list[str]],
                      train: list[list[str]] | None = None) -> Path:
    """An annotation pickle in the reference schema (protocol 4: plain in-band arrays)."""
    train = train if train is not None else [[] for _ in test]
    raw = {
        "labels": ["TrueLeakedGas"],
        "nframes": {v: len(t) for v, t in tubes.items()},
        "resolution": {v: (240, 320) for v in tubes},
        "train_videos": train,
        "test_videos": test,
        "gttubes": {v: {0: [np.asarray(t, dtype=np.float32)]} for v, t in tubes.items()},
    }
    path.write_bytes(pickle.dumps(raw, protocol=4))
    return path


def tube(nframes: int, box=(40.0, 30.0, 119.0, 99.0)) -> np.ndarray:
    return np.array([[f, *box] for f in range(1, nframes + 1)], dtype=np.float64)


REPO = Path(__file__).resolve().parents[2]


def run_eval(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """``python -m iodvideo.eval`` as a user runs it; ``args`` must set ``output_dir=``, which
    also becomes ``hydra.run.dir`` so Hydra's ``.hydra/`` stays out of the repository."""
    out_dir = next(a.split("=", 1)[1] for a in args if a.startswith("output_dir="))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}
    return subprocess.run(
        [sys.executable, "-m", "iodvideo.eval", *args, f"hydra.run.dir={out_dir}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
    )
