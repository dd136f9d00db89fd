"""Make a two-class copy of an IOD-Video-layout root: each tube's class is its video's
visibility (``clear`` / ``vague``, from the name suffix), frames shared by a symlink.

    python scripts/relabel_by_visibility.py data/synth data/synth_2class

A measurable several-class task on data we have (results/classes/): the detector must tell a
clear plume from a vague one, not only find it. Videos of neither suffix are refused.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from iodvideo.data.annotations import dump_annotation_pickle, load_annotations, safe_load_pickle

LABELS = ["clear", "vague"]


def relabel(source: Path, target: Path, name: str = "TrueLeakedGas.pkl") -> Path:
    annotations = load_annotations(source / name)
    raw = safe_load_pickle(source / name)
    gttubes = {}
    for video in annotations.nframes:
        suffix = video.rsplit("_", 1)[-1]
        if suffix not in LABELS:
            raise SystemExit(f"error: {source / name}: video {video} is neither _clear nor _vague")
        gttubes[video] = {LABELS.index(suffix): annotations.tubes(video)}
    target.mkdir(parents=True, exist_ok=True)
    dump_annotation_pickle({**raw, "labels": list(LABELS), "gttubes": gttubes}, target / name)
    frames = target / "Frames"
    if not frames.exists():
        frames.symlink_to((source / "Frames").resolve())
    load_annotations(target / name)  # what training will read must load
    return target / name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="root with TrueLeakedGas.pkl and Frames/")
    parser.add_argument("target", type=Path, help="new root (pickle written, Frames linked)")
    args = parser.parse_args(argv)
    print(relabel(args.source, args.target))
    return 0


if __name__ == "__main__":
    sys.exit(main())
