"""Plain CSV ↔ IOD-Video: one box per row, columns found by the header line.

Required columns ``video, frame, x1, y1, x2, y2``; optional ``label`` (default: ``--label``),
``track`` (boxes of one video and label without a track form one tube), ``width``/``height``
(the video's image size; otherwise ``--resolution WxH``) and ``nframes`` (otherwise, with a
warning, the video's last annotated frame). Frames are 1-based as in IOD-Video (``00001.png``
is frame 1); corners are pixels with x2/y2 the right/bottom edge as in the pickle.

The export writes every column, so the CSV alone rebuilds the tubes, sizes and lengths. What
rows cannot hold goes to a side file ``<stem>.splits.json`` (``a.csv`` → ``a.splits.json``, in
the ``--splits`` schema): the train/test lists and ``labels``, the pickle's label order, since
rows name labels only where boxes use them, in the order they come up. Imported with
``--splits``, the round trip is lossless; without it labels are numbered by first appearance.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

from iodvideo.data.annotations import Annotations
from iodvideo.data.formats.layout import BoxRecord, Collected
from iodvideo.errors import AnnotationError

REQUIRED = ("video", "frame", "x1", "y1", "x2", "y2")
OPTIONAL = ("label", "track", "width", "height", "nframes")
DEFAULT_LABEL = "TrueLeakedGas"


def read_csv(path: Path, label: str = DEFAULT_LABEL, frame_base: int = 1) -> Collected:
    """Parse a CSV file into boxes; every bad row is a problem naming its line."""
    path = Path(path)
    data = Collected(str(path))
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        raise AnnotationError(f"{path}: cannot read as UTF-8 text ({err})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(reader, [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise AnnotationError(f"{path}: line 1: header {header} lacks columns {missing} "
                              f"(needs {', '.join(REQUIRED)}; optional {', '.join(OPTIONAL)})")
    column = {name: header.index(name) for name in (*REQUIRED, *OPTIONAL) if name in header}
    for row in reader:
        if not row or all(not cell.strip() for cell in row):
            continue
        _read_row(row, reader.line_num, len(header), column, label, frame_base, data)
    return data


def _read_row(
    row: list[str], line: int, width: int, column: dict[str, int], default_label: str,
    frame_base: int, data: Collected,
) -> None:
    where = f"{data.source}: line {line}"
    if len(row) != width:
        data.problems.add(where, f"has {len(row)} fields, the header has {width}")
        return
    cell = {name: row[i].strip() for name, i in column.items()}
    bad = []
    numbers: dict[str, float] = {}
    for name in ("frame", "x1", "y1", "x2", "y2", "width", "height", "nframes"):
        if name not in cell or (name in ("width", "height", "nframes") and not cell[name]):
            continue
        try:
            numbers[name] = float(cell[name])
        except ValueError:
            bad.append(f"{name}={cell[name]!r}")
    for name in ("frame", "width", "height", "nframes"):
        value = numbers.get(name)
        if value is not None and not (math.isfinite(value) and value == int(value)):
            bad.append(f"{name}={cell[name]!r} (not an integer)")
            numbers.pop(name)
    if not cell["video"]:
        bad.append("empty video")
    if bad:
        data.problems.add(where, "cannot parse " + ", ".join(bad))
        return
    video = cell["video"]
    data.video(video, where)
    for name in ("width", "height", "nframes"):
        if name in numbers:
            if numbers[name] < 1:
                data.problems.add(where, f"{name} must be positive, got {cell[name]}")
            else:
                data.set_video_fact(video, name, int(numbers[name]), where)
    label = cell.get("label") or default_label
    data.add_label(label)
    box = (numbers["x1"], numbers["y1"], numbers["x2"], numbers["y2"])
    frame = int(numbers["frame"]) - frame_base + 1
    data.boxes.append(BoxRecord(video, label, cell.get("track", ""), frame, box, where))


def _number(value: float) -> str:
    """Integers without ``.0``; other values with ``repr`` (shortest exact float text)."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def csv_from_annotations(ann: Annotations) -> str:
    """All tubes as CSV rows (``track`` numbers the tubes of a video from 1)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*REQUIRED, *OPTIONAL])
    for video, labels in ann.gttubes.items():
        h, w = ann.resolution[video]
        track = 0
        for label, tubes in labels.items():
            for tube in tubes:
                track += 1
                for frame, x1, y1, x2, y2 in tube.tolist():
                    writer.writerow([video, int(frame), *(_number(v) for v in (x1, y1, x2, y2)),
                                     ann.labels[label], track, w, h, ann.nframes[video]])
    return out.getvalue()


def splits_json(ann: Annotations) -> str:
    """The CSV side file: the split lists and label order in the ``--splits`` file schema."""
    side = {"train": ann.train_videos, "test": ann.test_videos, "labels": ann.labels}
    return json.dumps(side, indent=1) + "\n"
