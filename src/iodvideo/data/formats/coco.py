"""COCO JSON ↔ IOD-Video: per-frame images (GOD-Video style) and COCO-video (``videos[]``).

Two flavours are read, told apart by a top-level ``videos`` list:

* per-frame images: each ``images[].file_name`` names its video and frame (``079_00119.png``
  or ``<video>/<frame>.png``), parsed with a regex with groups ``video`` and ``frame``;
  ``images[].video_length`` (optional) gives the video's frame count;
* COCO-video (mmtracking's CocoVID, TAO, YouTube-VIS): ``videos[]`` with ``id``, ``name``,
  optional ``width``/``height``/``length``; ``images[]`` with ``video_id`` and ``frame_id``
  (0-based by default); annotations with ``instance_id`` or ``track_id``, one track each
  (a tube per run of consecutive frames).

Boxes are ``[x, y, w, h]``, so ``x2 = x + w``: exported boxes come back bit for bit. The export
writes the COCO-video flavour plus a top-level ``splits`` (the pickle's train/test lists in
order), which the import reads back, so pickle → COCO → pickle is lossless (a tube that
skips frames comes back as one tube per run of consecutive frames: the same boxes).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iodvideo.data.annotations import Annotations
from iodvideo.data.formats.layout import BoxRecord, Collected
from iodvideo.data.formats.splits import splits_from_json
from iodvideo.errors import AnnotationError

DEFAULT_FILENAME_PATTERN = r"(?:.*/)?(?P<video>.+)[_/](?P<frame>\d+)\.[A-Za-z0-9]+"


@dataclass(frozen=True)
class CocoOptions:
    """``frame_base``: the number of a video's first frame in ``frame_id`` (default 0) or in
    file names (default 1); ``filename_pattern`` must fully match ``file_name``."""

    filename_pattern: str = DEFAULT_FILENAME_PATTERN
    frame_id_base: int = 0
    filename_frame_base: int = 1


def read_coco(path: Path, options: CocoOptions = CocoOptions()) -> Collected:
    """Parse one COCO JSON file (either flavour) into boxes; problems are collected."""
    _check_pattern(options.filename_pattern)
    data = Collected(str(path))
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise AnnotationError(f"{path}: cannot read ({err})") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        where = f"line {err.lineno} column {err.colno}" if hasattr(err, "lineno") else "bytes"
        raise AnnotationError(f"{path}: not JSON ({where}: {err})") from None
    if not isinstance(raw, dict) or not all(
        isinstance(raw.get(k), list) for k in ("images", "annotations", "categories")
    ):
        raise AnnotationError(f"{path}: not COCO: needs lists images, annotations, categories")
    categories = _categories(raw["categories"], data)
    if "videos" in raw:
        images = _video_images(raw, data, options)
    else:
        images = _filename_images(raw["images"], data, options)
    _annotations(raw["annotations"], images, categories, data)
    if "splits" in raw:
        try:
            data.splits = splits_from_json(raw["splits"], list(data.videos))
        except AnnotationError as err:
            data.problems.add(f"{path}: splits", str(err))
    return data


def _check_pattern(pattern: str) -> None:
    """Once per file, before any image: a bad pattern is the user's option, not the file's,
    and would otherwise fail (or go unnoticed) only where an image needs it."""
    try:
        groups = re.compile(pattern).groupindex
    except re.error as err:
        raise AnnotationError(f"--filename-pattern {pattern!r} is not a regex ({err})") from None
    if not {"video", "frame"} <= set(groups):
        raise AnnotationError(f"--filename-pattern {pattern!r} needs groups "
                              "(?P<video>...) and (?P<frame>...)")


def _is_id(value: Any) -> bool:
    """COCO ids are integers or strings; anything else (a list, an object) cannot be a key."""
    return isinstance(value, (int, str)) and not isinstance(value, bool)


def _lookup(table: dict[Any, Any], key: Any) -> Any:
    return table.get(key) if _is_id(key) else None


def _categories(items: list[Any], data: Collected) -> dict[Any, str]:
    out: dict[Any, str] = {}
    for i, c in enumerate(items):
        where = f"{data.source}: categories[{i}]"
        if not isinstance(c, dict) or "id" not in c or not isinstance(c.get("name"), str):
            data.problems.add(where, "needs an id and a name")
        elif not _is_id(c["id"]):
            data.problems.add(where, f"id {c['id']!r} is not an integer or string")
        elif c["id"] in out or c["name"] in data.labels:
            data.problems.add(where, f"id {c['id']!r} or name {c['name']!r} appears twice")
        else:
            out[c["id"]] = c["name"]
            data.add_label(c["name"])
    return out


def _positive_int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value):  # JSON Infinity/NaN, which Python's json accepts
        return None
    return int(value) if value == int(value) and value >= 1 else None


def _image_size(image: dict, video: str, where: str, data: Collected) -> None:
    for key, fact in (("width", "width"), ("height", "height")):
        if key in image:
            value = _positive_int(image[key])
            if value is None:
                data.problems.add(where, f"{key} {image[key]!r} is not a positive integer")
            else:
                data.set_video_fact(video, fact, value, where)


def _video_images(raw: dict, data: Collected, options: CocoOptions) -> dict[Any, tuple]:
    """COCO-video: ``videos[]`` name the videos, images point at them with ``frame_id``."""
    by_id: dict[Any, str] = {}
    if not isinstance(raw["videos"], list):
        raise AnnotationError(f"{data.source}: videos must be a list")
    for i, v in enumerate(raw["videos"]):
        where = f"{data.source}: videos[{i}]"
        name = v.get("name", v.get("file_name")) if isinstance(v, dict) else None
        if not isinstance(name, str) or "id" not in v:
            data.problems.add(where, "needs an id and a name")
            continue
        if not _is_id(v["id"]):
            data.problems.add(where, f"id {v['id']!r} is not an integer or string")
            continue
        if name in data.videos or v["id"] in by_id:
            data.problems.add(where, f"video id {v['id']!r} or name {name!r} appears twice")
            continue
        by_id[v["id"]] = name
        data.video(name, where)
        _image_size(v, name, where, data)
        length = v.get("length", v.get("video_length"))
        if length is not None:
            count = _positive_int(length)
            if count is None:
                data.problems.add(where, f"length {length!r} is not a positive integer")
            else:
                data.set_video_fact(name, "nframes", count, where)
    images: dict[Any, tuple] = {}
    for i, image in enumerate(raw["images"]):
        where = f"{data.source}: images[{i}]"
        if not _image_id_ok(image, where, data):
            continue
        video = _lookup(by_id, image.get("video_id"))
        if video is None:
            data.problems.add(where, f"video_id {image.get('video_id')!r} is not in videos")
            continue
        frame_id = image.get("frame_id")
        if isinstance(frame_id, int) and not isinstance(frame_id, bool):
            frame = frame_id - options.frame_id_base + 1
        else:
            parsed = _parse_file_name(image.get("file_name"), where, data, options)
            if parsed is None:
                continue
            frame = parsed[1]
        _image_size(image, video, where, data)
        data.videos[video].saw_image(frame)
        images[image["id"]] = (video, frame, where)
    return images


def _parse_file_name(
    name: Any, where: str, data: Collected, options: CocoOptions
) -> tuple[str, int] | None:
    match = re.fullmatch(options.filename_pattern, name) if isinstance(name, str) else None
    if match is None:
        data.problems.add(where, f"file_name {name!r} does not match the pattern "
                                 f"{options.filename_pattern!r} (groups video and frame)")
        return None
    if match.group("video") is None or match.group("frame") is None:
        data.problems.add(where, f"file_name {name!r}: the pattern's video or frame group "
                                 "matched nothing")
        return None
    try:
        frame = int(match.group("frame"))
    except ValueError:
        data.problems.add(where, f"file_name {name!r}: frame {match.group('frame')!r} "
                                 "is not a number")
        return None
    return match.group("video"), frame - options.filename_frame_base + 1


def _filename_images(items: list[Any], data: Collected, options: CocoOptions) -> dict[Any, tuple]:
    """Per-frame COCO: the video and frame come from each image's file name."""
    images: dict[Any, tuple] = {}
    for i, image in enumerate(items):
        where = f"{data.source}: images[{i}]"
        if not _image_id_ok(image, where, data):
            continue
        parsed = _parse_file_name(image.get("file_name"), where, data, options)
        if parsed is None:
            continue
        video, frame = parsed
        data.video(video, where).saw_image(frame)
        _image_size(image, video, where, data)
        if "video_length" in image:
            length = _positive_int(image["video_length"])
            if length is None:
                data.problems.add(where, f"video_length {image['video_length']!r} is not a "
                                         "positive integer")
            else:
                data.set_video_fact(video, "nframes", length, where)
        images[image["id"]] = (video, frame, where)
    return images


def _image_id_ok(image: Any, where: str, data: Collected) -> bool:
    if not isinstance(image, dict) or "id" not in image:
        data.problems.add(where, "needs an id")
        return False
    if not _is_id(image["id"]):
        data.problems.add(where, f"id {image['id']!r} is not an integer or string")
        return False
    return True


def _annotations(
    items: list[Any], images: dict[Any, tuple], categories: dict[Any, str], data: Collected
) -> None:
    for i, a in enumerate(items):
        where = f"{data.source}: annotations[{i}]"
        if not isinstance(a, dict):
            data.problems.add(where, "is not an object")
            continue
        image = _lookup(images, a.get("image_id"))
        label = _lookup(categories, a.get("category_id"))
        bbox = a.get("bbox")
        if image is None:
            data.problems.add(where, f"image_id {a.get('image_id')!r} is not a valid image")
        if label is None:
            data.problems.add(where, f"unknown category_id {a.get('category_id')!r} "
                                     f"(categories: {sorted(categories, key=str)})")
        numbers = isinstance(bbox, list) and len(bbox) == 4 and all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)
        if not numbers:
            data.problems.add(where, f"bbox {bbox!r} is not [x, y, w, h]")
        if image is None or label is None or not numbers:
            continue
        track = a.get("instance_id", a.get("track_id"))
        x, y, w, h = (float(v) for v in bbox)
        box = (x, y, x + w, y + h) if math.isfinite(w + h) else (x, y, math.nan, math.nan)
        video, frame, _ = image
        data.boxes.append(BoxRecord(video, label, "" if track is None else str(track),
                                    frame, box, where))


def coco_first_image_ids(ann: Annotations) -> dict[str, int]:
    """The COCO image id of each video's frame 1 in :func:`coco_from_annotations`: videos in
    the pickle's ``nframes`` order, every frame an image, ids counting from 1, so frame ``f``
    of ``video`` is image ``first[video] + f - 1``. Category ids are label index + 1."""
    first, next_id = {}, 1
    for video, count in ann.nframes.items():
        first[video] = next_id
        next_id += count
    return first


def coco_from_annotations(ann: Annotations) -> dict[str, Any]:
    """The COCO-video document of a loaded pickle: every frame an image (file names follow
    the ``Frames/<video>/<frame:05d>.png`` layout), every tube an instance, plus ``splits``."""
    categories = [{"id": i + 1, "name": name} for i, name in enumerate(ann.labels)]
    videos, images, annotations = [], [], []
    instance = 0
    first_ids = coco_first_image_ids(ann)
    for vid, video in enumerate(ann.nframes, start=1):
        h, w = ann.resolution[video]
        n = ann.nframes[video]
        videos.append({"id": vid, "name": video, "width": w, "height": h, "length": n})
        first_image = first_ids[video]
        images.extend({"id": first_image + f, "video_id": vid, "frame_id": f,
                       "file_name": f"{video}/{f + 1:05d}.png", "width": w, "height": h}
                      for f in range(n))
        for label, tubes in ann.gttubes[video].items():
            for tube in tubes:
                instance += 1
                for row in tube.tolist():
                    frame, x1, y1, x2, y2 = row
                    annotations.append({
                        "id": len(annotations) + 1, "image_id": first_image + int(frame) - 1,
                        "video_id": vid, "category_id": label + 1, "instance_id": instance,
                        "bbox": [x1, y1, x2 - x1, y2 - y1], "area": (x2 - x1) * (y2 - y1),
                        "iscrowd": 0,
                    })
    return {
        "info": {"description": f"exported by iodvideo from {ann.path.name}"},
        "categories": categories, "videos": videos, "images": images,
        "annotations": annotations,
        "splits": {"train": ann.train_videos, "test": ann.test_videos},
    }
