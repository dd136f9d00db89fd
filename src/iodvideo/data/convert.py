"""Convert an IOD-Video-layout dataset between frame folders and video files, and its
annotation pickle from and to COCO, CVAT and CSV (:mod:`iodvideo.data.formats`).

    python -m iodvideo.data.convert ROOT --to videos  # Frames/<video>/*.png -> Videos/<video>.avi
    python -m iodvideo.data.convert ROOT --to frames  # Videos/<video>.avi -> Frames/<video>/*.png
    python -m iodvideo.data.convert --from cvat cam1.xml -o ROOT/TrueLeakedGas.pkl  # import
    python -m iodvideo.data.convert ROOT --to coco -o ann.json                      # export

Frame folders read fastest; video files take a fraction of the disk. The default codec (FFV1
in ``.avi``) is lossless, so both forms give identical pixels and identical training; ``mp4v``
in ``.mp4`` is smaller and lossy. The annotation pickle says which videos exist and how many
frames each must have; every written video is checked against it. Each video is written to a
temporary name and renamed, so an interrupted conversion never leaves a truncated file that
looks finished; existing outputs are skipped unless ``--overwrite``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import cv2
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from iodvideo.data.annotations import Annotations, load_annotations
from iodvideo.data.formats import (
    DEFAULT_LABEL,
    DEFAULT_MAX_OUTSIDE,
    DEFAULT_SCENE_PATTERN,
    EXPORT_FORMATS,
    IMPORT_FORMATS,
    BuildOptions,
    ImportOptions,
    export_annotations,
    import_annotations,
    parse_resolution,
)
from iodvideo.data.formats.coco import DEFAULT_FILENAME_PATTERN
from iodvideo.data.readers import FrameFolderReader, VideoFileReader
from iodvideo.errors import FrameReadError, IODVideoError


def frames_to_video(
    reader: FrameFolderReader, video: str, nframes: int, out_path: Path, fps: float, codec: str
) -> None:
    """Encode frames 1..nframes of ``video`` into ``out_path`` (temporary file, then rename)."""
    first = reader.read(video, [1])[0]
    height, width = first.shape[:2]
    tmp = out_path.with_name(f".{out_path.stem}.partial{out_path.suffix}")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*codec), fps, (width, height))
    if not writer.isOpened():
        raise FrameReadError(f"{out_path}: OpenCV cannot encode codec {codec!r} here")
    try:
        for start in range(1, nframes + 1, 64):
            for frame in reader.read(video, range(start, min(start + 64, nframes + 1))):
                writer.write(frame)
    finally:
        writer.release()
    tmp.replace(out_path)


def video_to_frames(
    reader: VideoFileReader, video: str, nframes: int, out_dir: Path, image_ext: str
) -> None:
    """Decode ``video`` into ``out_dir/<frame:05d>.<ext>`` (temporary folder, then rename)."""
    tmp = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for start in range(1, nframes + 1, 64):
        frames = list(range(start, min(start + 64, nframes + 1)))
        for number, image in zip(frames, reader.read(video, frames, nframes), strict=True):
            if not cv2.imwrite(str(tmp / f"{number:05d}.{image_ext}"), image):
                raise FrameReadError(f"{tmp}: cannot write frame {number}")
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)


def convert(
    root: Path,
    to: str,
    annotations: str = "TrueLeakedGas.pkl",
    video_ext: str = "avi",
    codec: str = "FFV1",
    fps: float = 25.0,
    image_ext: str = "png",
    overwrite: bool = False,
    show_progress: bool = True,
) -> int:
    """Convert every video of ``root``'s annotation pickle; return how many were written."""
    ann: Annotations = load_annotations(root / annotations)
    frames_root, videos_root = root / "Frames", root / "Videos"
    frame_reader = FrameFolderReader(frames_root, image_ext)
    video_reader = VideoFileReader(videos_root, video_ext)
    written = 0
    columns = (TextColumn(f"to {to}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, disable=not show_progress) as bar:
        for video in bar.track(sorted(ann.nframes), description="videos"):
            nframes = ann.nframes[video]
            if to == "videos":
                target = video_reader.video_path(video)
                if target.exists() and not overwrite:
                    continue
                frames_to_video(frame_reader, video, nframes, target, fps, codec)
                video_reader.read(video, [1, nframes], nframes)  # verifies the frame count
            else:
                target = frames_root / video
                if target.exists() and not overwrite:
                    continue
                video_to_frames(video_reader, video, nframes, target, image_ext)
            written += 1
    return written


EPILOG = """\
modes (one of --to / --from):
  frames <-> videos (ROOT holds the annotation pickle and Frames/ or Videos/):
    %(prog)s data/synth --to videos
    %(prog)s data/synth --to frames
  export the annotation pickle (ROOT or the .pkl itself) as COCO-video JSON or CSV
  (CSV also writes the side file <out stem>.splits.json, here synth.splits.json, with the
  train/test lists and the label order; import the CSV back with --splits synth.splits.json,
  else labels are numbered as they first appear in the rows and labels without boxes are lost):
    %(prog)s data/synth --to coco -o synth.coco.json
    %(prog)s data/synth/TrueLeakedGas.pkl --to csv -o synth.csv
  import annotations into an IOD-Video pickle (validated; every problem reported at once):
    %(prog)s --from coco ann.json -o data/mine/TrueLeakedGas.pkl
    %(prog)s --from coco god.json --filename-pattern '(?P<video>\\d+)_(?P<frame>\\d+)\\.png' \\
        -o data/mine/TrueLeakedGas.pkl
    %(prog)s --from cvat cam1.xml cam2.xml -o data/mine/TrueLeakedGas.pkl --folds 3 --seed 0
    %(prog)s --from csv boxes.csv --resolution 320x240 --splits splits.json \\
        -o data/mine/TrueLeakedGas.pkl
  Frames for imported videos: put <video>.avi/.mp4 under ROOT/Videos/ (names as in the
  annotations) and run '%(prog)s ROOT --to frames', or train on them with data=videos.
See docs/own-data.md for each format, the validation rules and the split rule."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m iodvideo.data.convert",
        description="Convert an IOD-Video-layout dataset between <root>/Frames/<video>/"
        "<frame:05d>.<image-ext> folders and <root>/Videos/<video>.<video-ext> files; "
        "import COCO / CVAT-for-video / CSV annotations into its annotation pickle, or "
        "export the pickle as COCO or CSV.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="*", type=Path, metavar="ROOT|FILE",
                        help="--to: the dataset root (or, for coco/csv, the .pkl); "
                        "--from: the annotation files to import")
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--to", choices=("videos", "frames", *EXPORT_FORMATS))
    mode.add_argument("--from", dest="source", choices=IMPORT_FORMATS,
                      help="import FILEs of this format into the pickle given by -o")
    parser.add_argument("-o", "--out", type=Path,
                        help="output file: the .pkl (--from) or the .json/.csv (--to coco|csv)")
    parser.add_argument("--annotations", default="TrueLeakedGas.pkl",
                        help="pickle name inside ROOT (default TrueLeakedGas.pkl)")
    media = parser.add_argument_group("--to videos|frames")
    media.add_argument("--video-ext", default="avi", help="avi (default) or mp4")
    media.add_argument(
        "--codec", default="FFV1", help="FourCC; FFV1 is lossless (default), mp4v is lossy"
    )
    media.add_argument("--fps", type=float, default=25.0)
    media.add_argument("--image-ext", default="png", help="png (default) or jpg")
    media.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    imp = parser.add_argument_group("--from (import)")
    imp.add_argument("--splits", type=Path, help='JSON {"test": [[videos of split 1], ...], '
                     '"train": [...] (optional), "labels": [label order] (optional)}, e.g. '
                     "the side file of --to csv; default: embedded COCO splits, else k-fold")
    imp.add_argument("--folds", type=int, default=3, help="k-fold splits (default 3)")
    imp.add_argument("--seed", type=int, default=0, help="k-fold shuffle seed (default 0)")
    imp.add_argument("--scene-pattern", default=DEFAULT_SCENE_PATTERN,
                     help="regex with group 'scene' matched against a video's base name; "
                     "videos of one scene stay in one fold (default %(default)r: "
                     "'site_cam2_007' -> 'site_cam2'; no match = own scene)")
    imp.add_argument("--resolution", metavar="WxH",
                     help="image size of videos whose file gives none (e.g. 320x240)")
    imp.add_argument("--label", default=DEFAULT_LABEL,
                     help="CSV: class name for rows without a label (default %(default)s)")
    imp.add_argument("--frame-base", type=int,
                     help="number of a video's first frame in the file (default: COCO "
                     "frame_id and CVAT 0, COCO file names and CSV 1)")
    imp.add_argument("--filename-pattern", default=DEFAULT_FILENAME_PATTERN,
                     help="COCO file_name regex with groups 'video' and 'frame' "
                     "(default: '<video>_<frame>.png' or '<video>/<frame>.png')")
    imp.add_argument("--max-outside", type=float, default=DEFAULT_MAX_OUTSIDE,
                     help="pixels a box may extend past the image (default %(default)g)")
    args = parser.parse_args(argv)
    if args.source is None and len(args.paths) != 1:
        parser.error(f"--to {args.to} takes exactly one ROOT")
    if args.source is not None and not args.paths:
        parser.error(f"--from {args.source} needs at least one FILE")
    if args.out is None and (args.source is not None or args.to in EXPORT_FORMATS):
        parser.error("-o/--out is required with --from and with --to coco|csv")
    return args


def _import(args: argparse.Namespace) -> str:
    options = ImportOptions(args.frame_base, args.filename_pattern, args.label)
    resolution = parse_resolution(args.resolution) if args.resolution else None
    build = BuildOptions(args.splits, args.folds, args.seed, args.scene_pattern,
                         args.max_outside, resolution)
    built = import_annotations(args.source, args.paths, args.out, options, build)
    for warning in built.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    content = built.content
    sizes = "/".join(str(len(t)) for t in content["test_videos"])
    return (f"imported {len(content['nframes'])} videos, {built.num_tubes} tubes, labels "
            f"{content['labels']} into {args.out} ({len(content['test_videos'])} splits, "
            f"test videos {sizes})")


def _export(args: argparse.Namespace) -> str:
    source = args.paths[0]
    pickle_path = source / args.annotations if source.is_dir() else source
    written = export_annotations(pickle_path, args.to, args.out)
    return f"exported {pickle_path} to " + ", ".join(str(p) for p in written)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.source is not None:
            message = _import(args)
        elif args.to in EXPORT_FORMATS:
            message = _export(args)
        else:
            root = args.paths[0]
            count = convert(
                root, args.to, args.annotations, args.video_ext, args.codec, args.fps,
                args.image_ext, args.overwrite, show_progress=sys.stderr.isatty(),
            )
            message = f"converted {count} videos under {root} to {args.to}"
    except IODVideoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(message)
    return 0


if __name__ == "__main__":
    sys.exit(main())
