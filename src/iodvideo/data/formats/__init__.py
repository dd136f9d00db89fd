"""User annotation formats ↔ the IOD-Video annotation pickle (docs/own-data.md).

Import: COCO (per-frame images or COCO-video), CVAT for video 1.1 XML and plain CSV are parsed
into boxes (one module each), then :mod:`.layout` validates them once for all formats, builds
the tubes and splits (:mod:`.splits`) and writes a pickle that ``load_annotations`` accepts.
Export: a loaded pickle as COCO-video JSON or CSV (with its side file), lossless (a tube that
skips frames comes back split at its gaps), so the pickle can be edited in other tools and
brought back.
``python -m iodvideo.data.convert`` is the command line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from iodvideo.data.annotations import load_annotations
from iodvideo.data.formats.coco import (
    DEFAULT_FILENAME_PATTERN,
    CocoOptions,
    coco_from_annotations,
    read_coco,
)
from iodvideo.data.formats.cvat import read_cvat
from iodvideo.data.formats.layout import (
    DEFAULT_MAX_OUTSIDE,
    BuildOptions,
    Built,
    Collected,
    build_layout,
    parse_resolution,
    write_pickle,
    write_text_atomic,
)
from iodvideo.data.formats.plain_csv import (
    DEFAULT_LABEL,
    csv_from_annotations,
    read_csv,
    splits_json,
)
from iodvideo.data.formats.splits import DEFAULT_SCENE_PATTERN, SplitLists, kfold_splits
from iodvideo.errors import AnnotationError

IMPORT_FORMATS = ("coco", "cvat", "csv")
EXPORT_FORMATS = ("coco", "csv")

__all__ = [
    "DEFAULT_LABEL", "DEFAULT_MAX_OUTSIDE", "DEFAULT_SCENE_PATTERN", "EXPORT_FORMATS",
    "IMPORT_FORMATS", "BuildOptions", "Built", "CocoOptions", "ImportOptions", "SplitLists",
    "collect", "export_annotations", "import_annotations", "kfold_splits", "parse_resolution",
]


@dataclass(frozen=True)
class ImportOptions:
    """Parsing choices; ``frame_base`` ``None`` means the format's own convention (COCO
    ``frame_id`` and CVAT 0, file names and CSV 1)."""

    frame_base: int | None = None
    filename_pattern: str = DEFAULT_FILENAME_PATTERN
    label: str = DEFAULT_LABEL


def collect(fmt: str, paths: Sequence[Path], options: ImportOptions = ImportOptions()) -> Collected:
    """Parse every file of ``fmt`` and merge them into one :class:`Collected` (a video may
    appear in one file only; its boxes, sizes and lengths are then checked together)."""
    if fmt not in IMPORT_FORMATS:
        raise AnnotationError(f"unknown import format {fmt!r} (one of {IMPORT_FORMATS})")
    if not paths:
        raise AnnotationError(f"--from {fmt}: no input files given")
    parts = [_read_one(fmt, Path(p), options) for p in paths]
    if len(parts) == 1:
        return parts[0]
    merged = Collected(", ".join(str(p) for p in paths))
    for part in parts:
        merged.problems.items.extend(part.problems.items)
        for label in part.labels:
            merged.add_label(label)
        for name, info in part.videos.items():
            if name in merged.videos:
                merged.problems.add(info.where, f"video {name!r} is also defined at "
                                                f"{merged.videos[name].where}")
            else:
                merged.videos[name] = info
        merged.boxes.extend(part.boxes)
        if part.splits is not None:
            merged.problems.add(part.source, "embedded splits need a single input file; "
                                             "give them with --splits instead")
    return merged


def _read_one(fmt: str, path: Path, options: ImportOptions) -> Collected:
    base = options.frame_base
    if fmt == "coco":
        coco = CocoOptions(options.filename_pattern, 0 if base is None else base,
                           1 if base is None else base)
        return read_coco(path, coco)
    if fmt == "cvat":
        return read_cvat(path, 0 if base is None else base)
    return read_csv(path, options.label, 1 if base is None else base)


def import_annotations(
    fmt: str,
    paths: Sequence[Path],
    out: Path,
    options: ImportOptions = ImportOptions(),
    build: BuildOptions | None = None,
) -> Built:
    """Parse, validate, build and atomically write the IOD-Video pickle ``out``."""
    built = build_layout(collect(fmt, paths, options), build or BuildOptions())
    write_pickle(built.content, Path(out))
    return built


def export_annotations(pickle_path: Path, fmt: str, out: Path) -> list[Path]:
    """Write a validated pickle as COCO-video JSON or CSV (plus the side file
    ``<out stem>.splits.json``: splits and label order, which CSV rows cannot hold);
    return the files written."""
    if fmt not in EXPORT_FORMATS:
        raise AnnotationError(f"unknown export format {fmt!r} (one of {EXPORT_FORMATS})")
    ann = load_annotations(pickle_path)
    out = Path(out)
    if fmt == "coco":
        write_text_atomic(json.dumps(coco_from_annotations(ann), separators=(",", ":")), out)
        return [out]
    write_text_atomic(csv_from_annotations(ann), out)
    sidecar = out.with_name(f"{out.stem}.splits.json")
    write_text_atomic(splits_json(ann), sidecar)
    return [out, sidecar]
