"""CVAT "for video 1.1" XML → boxes, one video per file, with CVAT's track semantics.

A ``<track id label>`` holds ``<box frame outside keyframe xtl ytl xbr ybr>`` elements. CVAT
stores only some frames (its export lists interpolated frames too, marked ``keyframe="0"``);
the track's box on any other frame follows CVAT's rule, reproduced here:

* between two listed boxes the corners move linearly with the frame number;
* if the later box is ``outside="1"``, the earlier one is held until it (no interpolation
  towards an object that has left), and from an ``outside`` box on there is no box until the
  next listed one, so an ``outside`` gap splits the track into separate tubes;
* after the last listed box, unless it is ``outside``, the box is held to the video's end.

CVAT numbers frames from 0; IOD-Video from 1, so frame 0 becomes frame 1. The video's name is
the file's stem (``cam1.xml`` → ``cam1``), its frame count ``<meta>…<size>`` and its image
size ``<original_size>``.

The XML is untrusted: a document type declaration or entity (``<!DOCTYPE``, ``<!ENTITY``,
the way to entity-expansion bombs and external file reads) is refused before parsing.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from iodvideo.data.formats.layout import BoxRecord, Collected
from iodvideo.errors import AnnotationError

_FORBIDDEN = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_CORNERS = ("xtl", "ytl", "xbr", "ybr")


@dataclass(frozen=True)
class _Key:
    frame: int  # 1-based
    outside: bool
    box: tuple[float, float, float, float]
    where: str


def read_cvat(path: Path, frame_base: int = 0, video: str | None = None) -> Collected:
    """Parse a CVAT-for-video XML file into per-frame boxes of the video ``video`` (default:
    the file's stem); tracks become ``track`` ids, interpolated as CVAT does."""
    path = Path(path)
    data = Collected(str(path))
    try:
        text = path.read_bytes()
    except OSError as err:
        raise AnnotationError(f"{path}: cannot read ({err})") from None
    if _FORBIDDEN.search(text):
        raise AnnotationError(f"{path}: refusing an XML document type or entity declaration "
                              "(<!DOCTYPE / <!ENTITY>); CVAT exports have none")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        line, column = err.position
        raise AnnotationError(f"{path}: not XML (line {line}, column {column + 1})") from None
    if root.tag != "annotations":
        raise AnnotationError(f"{path}: root element is <{root.tag}>, expected <annotations> "
                              "(export as 'CVAT for video 1.1')")
    name = video or path.stem
    info = data.video(name, f"{path}: <meta>")
    info.nframes = _meta_int(root, ".//meta//size", data)
    info.width = _meta_int(root, ".//meta//original_size/width", data)
    info.height = _meta_int(root, ".//meta//original_size/height", data)
    for label in root.iterfind(".//meta//labels/label/name"):
        if label.text and label.text.strip():
            data.add_label(label.text.strip())
    if root.find("image") is not None:
        data.problems.add(str(path), "has <image> elements: this is 'CVAT for images'; "
                                     "export the task as 'CVAT for video 1.1'")
    for t, track in enumerate(root.iterfind("track")):
        _read_track(track, t, name, info.nframes, frame_base, data)
    return data


def _meta_int(root: ET.Element, xpath: str, data: Collected) -> int | None:
    element = root.find(xpath)
    if element is None or element.text is None:
        return None
    try:
        value = int(element.text.strip())
    except ValueError:
        value = 0
    if value < 1:
        data.problems.add(f"{data.source}: <{xpath.rsplit('/', 1)[-1]}>",
                          f"{element.text!r} is not a positive integer")
        return None
    return value


def _read_track(
    track: ET.Element, index: int, video: str, nframes: int | None, frame_base: int,
    data: Collected,
) -> None:
    track_id = track.get("id", str(index))
    where = f"{data.source}: <track id={track_id}>"
    label = track.get("label")
    if not label:
        data.problems.add(where, "has no label")
        return
    data.add_label(label)
    others = sorted({child.tag for child in track if child.tag != "box"})
    if others:
        data.problems.add(where, f"has {others} shapes; only <box> tracks can be imported")
    keys: dict[int, _Key] = {}
    for box in track.iterfind("box"):
        key = _read_box(box, where, frame_base, data)
        if key is None:
            continue
        if key.frame in keys:
            data.problems.add(key.where, f"track already has a box on this frame "
                                         f"(at {keys[key.frame].where})")
            continue
        keys[key.frame] = key
    ordered = [keys[f] for f in sorted(keys)]
    for i, key in enumerate(ordered):
        if key.outside:
            continue
        nxt = ordered[i + 1] if i + 1 < len(ordered) else None
        end = nxt.frame if nxt is not None else max(nframes or key.frame, key.frame) + 1
        for frame in range(key.frame, end):
            if nxt is None or nxt.outside or frame == key.frame:
                box, at = key.box, key.where
            else:
                t = (frame - key.frame) / (nxt.frame - key.frame)
                box = tuple(a + t * (b - a) for a, b in zip(key.box, nxt.box, strict=True))
                at = f"{key.where} (interpolated to frame {frame})"
            data.boxes.append(BoxRecord(video, label, track_id, frame, box, at))


def _read_box(box: ET.Element, track_where: str, frame_base: int, data: Collected) -> _Key | None:
    raw_frame = box.get("frame")
    where = f"{track_where} <box frame={raw_frame}>"
    try:
        frame = int(raw_frame or "") - frame_base + 1
        corners = tuple(float(box.get(k, "")) for k in _CORNERS)
    except ValueError:
        data.problems.add(where, f"needs an integer frame and numbers {list(_CORNERS)}, got "
                                 f"{ {k: box.get(k) for k in ('frame', *_CORNERS)} }")
        return None
    outside = box.get("outside", "0").strip() not in ("0", "false", "")
    return _Key(frame, outside, corners, where)
