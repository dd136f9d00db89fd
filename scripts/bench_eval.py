"""Benchmark the five-metric frame-AP evaluation on a split-sized detection set.

    .venv/bin/python scripts/bench_eval.py                 # split 1: 196 videos, ~36 M boxes
    .venv/bin/python scripts/bench_eval.py --videos 20     # a quick subset while developing

Detections are synthetic but shaped like a CenterNet clip detector's (protocol §8):
every inference clip (K = 8, stride 1, the real frame counts of the split's test videos) gives
N = 100 tubelets; one follows the GT box with a high score, 99 sit on background "sites" that
persist from clip to clip (overlapping clips see nearly the same heatmap) with jittered
positions, sizes and scores. ``--uncorrelated`` draws fresh sites for every clip instead
(fewer suppressions, a harder case for the rescoring). Clips are merged per frame with
``clips_to_frame_detections`` (not timed), then ``paper_metrics`` is timed: rescoring, matching
at ten thresholds and the clear/vague subsets. Peak RSS is the process maximum (input included).

With ``--naive-videos M`` (default 2) the same five metrics are also computed on the first M
videos with the per-detection reference transcription (:mod:`iodvideo.evaluation.reference`),
the fast path is timed on the same videos, the APs must be identical, and the speed ratio is
reported.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

import numpy as np

from iodvideo.data.annotations import load_annotations
from iodvideo.detections.merge import clips_to_frame_detections
from iodvideo.evaluation.metrics import (
    THRESHOLDS_50_95,
    default_workers,
    paper_metrics,
    visibility_of,
)
from iodvideo.evaluation.reference import frame_ap_reference
from iodvideo.hardware import bench_header

DEFAULT_ANNOTATIONS = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "iodvideo-annotations"
    / "TrueLeakedGas.pkl"
)


def synthetic_video(
    rng: np.random.Generator, tube: np.ndarray, clip_len: int = 8, n: int = 100,
    correlated: bool = True, grid: int = 72, image_hw: tuple[int, int] = (240, 320),
) -> dict[int, np.ndarray]:
    """Per-clip tubelets ``{start: (n, 4K+1)}`` in image pixels for one video."""
    height, width = image_hw
    sx, sy = width / grid, height / grid
    clips = len(tube) - clip_len + 1
    sites = 160
    gx = rng.integers(0, grid, (1 if correlated else clips, sites))
    gy = rng.integers(0, grid, (1 if correlated else clips, sites))
    bw = np.exp(rng.normal(np.log(18), 0.6, sites))
    bh = np.exp(rng.normal(np.log(16), 0.6, sites))
    logit = rng.normal(-4.0, 1.2, sites) + rng.normal(0, 0.5, (clips, sites))
    top = np.argsort(-logit, axis=1)[:, : n - 1]  # (C, n-1)
    rows = np.arange(clips)[:, None]
    gx = np.broadcast_to(gx, (clips, sites))[rows, top]
    gy = np.broadcast_to(gy, (clips, sites))[rows, top]
    starts = np.arange(clips)
    frames = starts[:, None] + np.arange(clip_len)  # 0-based frame rows of each clip
    key = tube[starts + clip_len // 2]
    ox = np.floor((key[:, 1] + key[:, 3]) / 2 / sx)
    oy = np.floor((key[:, 2] + key[:, 4]) / 2 / sy)
    jitter = (clips, n, clip_len)
    cx = np.concatenate((ox[:, None], gx), axis=1)[..., None] + rng.normal(0, 0.4, jitter)
    cy = np.concatenate((oy[:, None], gy), axis=1)[..., None] + rng.normal(0, 0.4, jitter)
    gt_w = (tube[frames, 3] - tube[frames, 1]) / sx  # (C, K)
    gt_h = (tube[frames, 4] - tube[frames, 2]) / sy
    shape = (clips, n - 1, clip_len)
    w = np.concatenate((gt_w[:, None], np.broadcast_to(bw[top][..., None], shape)), axis=1)
    h = np.concatenate((gt_h[:, None], np.broadcast_to(bh[top][..., None], shape)), axis=1)
    w = w * np.exp(rng.normal(0, 0.1, w.shape))
    h = h * np.exp(rng.normal(0, 0.1, h.shape))
    score = 1 / (1 + np.exp(-np.concatenate(
        (rng.normal(0.5, 1, (clips, 1)), logit[rows, top]), axis=1)))
    boxes = np.stack((
        np.clip((cx - w / 2) * sx, 0, width - 1), np.clip((cy - h / 2) * sy, 0, height - 1),
        np.clip((cx + w / 2) * sx, 0, width - 1), np.clip((cy + h / 2) * sy, 0, height - 1),
    ), axis=-1)  # (C, n, K, 4)
    tubelets = np.concatenate((boxes.reshape(clips, n, 4 * clip_len), score[..., None]), axis=2)
    tubelets = tubelets.astype(np.float32)  # the reference stores float32 pickles
    return {s + 1: tubelets[s] for s in range(clips)}


def peak_rss_gb(children: bool = False) -> float:
    who = resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF
    return resource.getrusage(who).ru_maxrss / 2**20  # Linux: KiB


def _pss_kib(pid: int) -> int:
    """Proportional set size: shared pages split between the processes that map them."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("Pss:"))
    except (OSError, StopIteration):
        return 0


def _children(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        kids += [int(c) for c in task.read_text().split()]
    return kids


class TotalMemorySampler(threading.Thread):
    """Peak over time of the summed PSS of this process and its worker processes — the
    honest total (RSS counts pages shared with the parent once per process)."""

    def __init__(self, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.interval, self.peak_gb, self._done = interval, 0.0, threading.Event()

    def run(self) -> None:
        me = os.getpid()
        while not self._done.wait(self.interval):
            total = sum(_pss_kib(pid) for pid in [me, *_children(me)])
            self.peak_gb = max(self.peak_gb, total / 2**20)

    def stop(self) -> float:
        self._done.set()
        self.join()
        return self.peak_gb


def naive_five(dets: dict, gt: dict) -> dict[str, float]:
    """The five metrics with the per-detection reference transcription."""
    def mean_ap(videos: list[str]) -> float:
        if not videos:
            return float("nan")
        aps = frame_ap_reference(dets, {v: gt[v] for v in videos}, THRESHOLDS_50_95)
        return float(np.mean(list(aps.values()))) * 100

    full = frame_ap_reference(dets, gt, THRESHOLDS_50_95)
    return {
        "AP@0.5": full[0.5] * 100, "AP@0.75": full[0.75] * 100,
        "AP@clear": mean_ap([v for v in gt if visibility_of(v) == "clear"]),
        "AP@vague": mean_ap([v for v in gt if visibility_of(v) == "vague"]),
        "AP@0.5:0.95": float(np.mean(list(full.values()))) * 100,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotations", default=str(DEFAULT_ANNOTATIONS))
    parser.add_argument("--split", type=int, default=1)
    parser.add_argument("--videos", type=int, default=None, help="first N test videos only")
    parser.add_argument("--uncorrelated", action="store_true")
    parser.add_argument("--naive-videos", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=None,
                        help="processes for rescoring/matching (default: CPUs available)")
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    print(bench_header("float64 numpy (no network)"), flush=True)
    annotations = load_annotations(args.annotations)
    videos = annotations.videos(args.split, "test")[: args.videos]
    gt = {v: annotations.tube(v).astype(np.float64) for v in videos}
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    dets = {
        v: clips_to_frame_detections(
            synthetic_video(rng, gt[v], correlated=not args.uncorrelated), 8
        )
        for v in videos
    }
    boxes = sum(len(d) for d in dets.values())
    frames = sum(len(t) for t in gt.values())
    print(f"built {boxes:,} frame boxes on {frames:,} frames of {len(videos)} videos "
          f"in {time.perf_counter() - t0:.1f} s; RSS so far {peak_rss_gb():.2f} GB", flush=True)

    workers = args.workers or default_workers()
    sampler = TotalMemorySampler()
    sampler.start()
    t0 = time.perf_counter()
    result = paper_metrics(dets, gt, workers=workers)
    fast_s = time.perf_counter() - t0
    total_gb = sampler.stop()
    figures = {
        "videos": len(videos), "frames": frames, "boxes": boxes,
        "correlated": not args.uncorrelated, "workers": workers, "seconds": fast_s,
        "peak_rss_gb": peak_rss_gb(), "peak_rss_worker_gb": peak_rss_gb(children=True),
        "peak_total_pss_gb": total_gb,
        "metrics": result.metrics,
    }
    print(f"five metrics in {fast_s:.1f} s ({fast_s / boxes * 1e9:.0f} ns/box, {workers} "
          f"worker(s)), peak RSS {figures['peak_rss_gb']:.2f} GB (largest worker "
          f"{figures['peak_rss_worker_gb']:.2f} GB, pages shared with the main process "
          f"counted again; all processes together, PSS: {total_gb:.2f} GB): "
          + ", ".join(f"{k} {v:.2f}" for k, v in result.metrics.items()), flush=True)

    if args.naive_videos:
        sub = videos[: args.naive_videos]
        sub_gt, sub_dets = {v: gt[v] for v in sub}, {v: dets[v] for v in sub}
        t0 = time.perf_counter()
        fast = paper_metrics(sub_dets, sub_gt, workers=1).metrics
        sub_fast = time.perf_counter() - t0
        t0 = time.perf_counter()
        slow = naive_five(sub_dets, sub_gt)
        sub_slow = time.perf_counter() - t0
        same = all((np.isnan(fast[k]) and np.isnan(slow[k])) or fast[k] == slow[k] for k in fast)
        figures.update(naive_videos=len(sub), naive_boxes=sum(len(d) for d in sub_dets.values()),
                       naive_seconds=sub_slow, fast_seconds_same_subset=sub_fast,
                       speed_ratio=sub_slow / sub_fast, identical=same)
        print(f"naive per-detection reference on {len(sub)} videos "
              f"({figures['naive_boxes']:,} boxes): {sub_slow:.1f} s vs fast {sub_fast:.2f} s "
              f"-> x{sub_slow / sub_fast:.1f}; identical APs: {same}", flush=True)
        if not same:
            print(f"MISMATCH fast {fast} vs naive {slow}", file=sys.stderr)
            return 1
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
