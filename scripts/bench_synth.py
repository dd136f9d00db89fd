"""Benchmark SynthIOD generation speed: frames per second on one core, default config.

    python scripts/bench_synth.py [--videos N] [--repeat R] [key=value ...]

Pins every numeric library to one thread before importing them, then times (a) rendering
alone (frames produced in memory, no files) and (b) the whole ``generate_synthiod`` run
including PNG encoding and the pickles, each the best of ``--repeat`` runs. Issue 4 asks for
>= 100 frames/s per core at 240x320.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import replace  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402

from iodvideo.data.synth import SynthConfig, generate_synthiod, plan_videos  # noqa: E402
from iodvideo.data.synth.render import render_video  # noqa: E402
from iodvideo.hardware import bench_header  # noqa: E402

GOAL = 100.0  # frames / s / core


def _value(text: str) -> object:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=None, help="default: the config's 24")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("overrides", nargs="*", help="SynthConfig fields as key=value")
    args = parser.parse_args()
    print(bench_header("numpy rendering (no network)"), flush=True)
    cv2.setNumThreads(1)
    fields = dict(item.split("=", 1) for item in args.overrides)
    config = SynthConfig(**{k: _value(v) for k, v in fields.items()})
    if args.videos is not None:
        config = replace(config, num_videos=args.videos)
    videos = plan_videos(config)
    frames = sum(v.nframes for v in videos)

    def render_all() -> None:
        for video in videos:
            render_video(video, config, lambda number, grey: None)

    def generate_all() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            generate_synthiod(Path(tmp) / "bench", config)

    print(f"SynthIOD benchmark: {len(videos)} videos, {frames} frames, "
          f"{config.height}x{config.width}, image_ext={config.image_ext}, 1 thread")
    for label, job in (("render only (in memory)", render_all),
                       (f"generate_synthiod (+ {config.image_ext} files)", generate_all)):
        best = float("inf")
        for _ in range(max(args.repeat, 1)):
            start = time.perf_counter()
            job()
            best = min(best, time.perf_counter() - start)
        fps = frames / best
        verdict = "PASS" if fps >= GOAL else "FAIL"
        print(f"{label:34s} {fps:7.0f} frames/s per core  ({best:.2f} s)  "
              f"goal >= {GOAL:.0f}: {verdict}")


if __name__ == "__main__":
    main()
