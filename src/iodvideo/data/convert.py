"""Convert an IOD-Video-layout dataset between frame folders and video files.

    python -m iodvideo.data.convert ROOT --to videos  # Frames/<video>/*.png -> Videos/<video>.avi
    python -m iodvideo.data.convert ROOT --to frames  # Videos/<video>.avi -> Frames/<video>/*.png

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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m iodvideo.data.convert",
        description="Convert an IOD-Video-layout dataset between <root>/Frames/<video>/"
        "<frame:05d>.<image-ext> folders and <root>/Videos/<video>.<video-ext> files.",
    )
    parser.add_argument("root", type=Path, help="dataset root (holds the annotation pickle)")
    parser.add_argument("--to", choices=("videos", "frames"), required=True)
    parser.add_argument("--annotations", default="TrueLeakedGas.pkl")
    parser.add_argument("--video-ext", default="avi", help="avi (default) or mp4")
    parser.add_argument(
        "--codec", default="FFV1", help="FourCC; FFV1 is lossless (default), mp4v is lossy"
    )
    parser.add_argument("--fps", type=float, default=25.0)
    parser.add_argument("--image-ext", default="png", help="png (default) or jpg")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        count = convert(
            args.root, args.to, args.annotations, args.video_ext, args.codec, args.fps,
            args.image_ext, args.overwrite, show_progress=sys.stderr.isatty(),
        )
    except IODVideoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"converted {count} videos under {args.root} to {args.to}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
