"""CVAT for video 1.1: CVAT's interpolation, outside gaps (new tubes), and refusing
DTDs/entities."""

from __future__ import annotations

import json

import numpy as np
import pytest

from iodvideo.data.annotations import load_annotations
from iodvideo.data.formats import BuildOptions, collect, import_annotations
from iodvideo.data.formats.layout import build_layout
from iodvideo.errors import AnnotationError

META = """<version>1.1</version><meta><task><name>t</name><size>{size}</size>
<original_size><width>64</width><height>48</height></original_size>
<labels><label><name>gas</name></label></labels></task></meta>"""


def box(frame, x1, y1, x2, y2, outside=0, keyframe=1):
    return (f'<box frame="{frame}" outside="{outside}" occluded="0" keyframe="{keyframe}" '
            f'xtl="{x1}" ytl="{y1}" xbr="{x2}" ybr="{y2}" z_order="0"/>')


def write(tmp_path, name, tracks, size=10):
    body = "".join(f'<track id="{i}" label="gas" source="manual">{"".join(boxes)}</track>'
                   for i, boxes in enumerate(tracks))
    path = tmp_path / f"{name}.xml"
    path.write_text(f'<?xml version="1.0" encoding="utf-8"?>\n<annotations>'
                    f'{META.format(size=size)}{body}</annotations>')
    return path


def by_frame(data, track="0"):
    return {r.frame: r.box for r in data.boxes if r.track == track}


def test_keyframes_interpolate_linearly_and_the_last_box_holds_to_the_end(tmp_path):
    path = write(tmp_path, "cam1", [[box(0, 10, 10, 20, 20), box(4, 14, 10, 28, 20)]])
    import_annotations("cvat", [path], tmp_path / "out.pkl",
                       build=BuildOptions(splits_file=_splits(tmp_path, ["cam1"])))
    ann = load_annotations(tmp_path / "out.pkl")
    assert ann.labels == ["gas"] and ann.nframes == {"cam1": 10}
    assert ann.resolution == {"cam1": (48, 64)}
    expected = [[f + 1, 10 + min(f, 4), 10, 20 + 2 * min(f, 4), 20] for f in range(10)]
    np.testing.assert_array_equal(ann.tube("cam1"), np.asarray(expected, np.float32))


def test_outside_ends_a_tube_and_a_later_box_starts_another(tmp_path):
    track = [box(0, 10, 10, 20, 20), box(4, 14, 10, 28, 20), box(6, 0, 0, 1, 1, outside=1),
             box(8, 30, 30, 40, 40)]
    data = collect("cvat", [write(tmp_path, "cam2", [track])])
    frames = by_frame(data)
    assert sorted(frames) == [1, 2, 3, 4, 5, 6, 9, 10]  # CVAT frames 0-5 and 8-9
    assert frames[3] == (12, 10, 24, 20)  # halfway between the keyframes
    assert frames[6] == (14, 10, 28, 20)  # held until the outside box
    assert frames[9] == frames[10] == (30, 30, 40, 40)
    built = build_layout(data, BuildOptions(splits_file=_splits(tmp_path, ["cam2"])))
    assert built.num_tubes == 2 and built.warnings == []
    first, second = built.content["gttubes"]["cam2"][0]
    np.testing.assert_array_equal(first, [[1, 10, 10, 20, 20], [2, 11, 10, 22, 20],
                                          [3, 12, 10, 24, 20], [4, 13, 10, 26, 20],
                                          [5, 14, 10, 28, 20], [6, 14, 10, 28, 20]])
    np.testing.assert_array_equal(second, [[9, 30, 30, 40, 40], [10, 30, 30, 40, 40]])


def test_outside_gap_imports_to_two_tubes_in_the_pickle(tmp_path):
    """The fixture end to end: a plume leaves (outside) and comes back, beside a second
    plume that appears late and leaves early; the pickle loads with three known tubes."""
    plume = [box(0, 10, 10, 20, 20), box(2, 10, 10, 20, 20, outside=1),
             box(5, 30, 30, 40, 40), box(7, 30, 30, 40, 40, outside=1)]
    late = [box(3, 40, 5, 50, 15), box(6, 40, 5, 50, 15, outside=1)]
    path = write(tmp_path, "cam6", [plume, late], size=8)
    import_annotations("cvat", [path], tmp_path / "out.pkl",
                       build=BuildOptions(splits_file=_splits(tmp_path, ["cam6"])))
    ann = load_annotations(tmp_path / "out.pkl")
    tubes = ann.tubes("cam6")
    assert [t[:, 0].tolist() for t in tubes] == [[1, 2], [6, 7], [4, 5, 6]]
    np.testing.assert_array_equal(tubes[0][:, 1:], [[10, 10, 20, 20]] * 2)
    np.testing.assert_array_equal(tubes[1][:, 1:], [[30, 30, 40, 40]] * 2)
    np.testing.assert_array_equal(tubes[2][:, 1:], [[40, 5, 50, 15]] * 3)
    # every GT box of the video by frame: none on frames 3 and 8, two on frame 6
    assert ann.frame_boxes("cam6")[:, 0].tolist() == [1, 2, 4, 5, 6, 6, 7]


def test_the_box_before_an_outside_one_is_held_not_interpolated(tmp_path):
    track = [box(0, 10, 10, 20, 20), box(3, 30, 30, 40, 40, outside=1)]
    frames = by_frame(collect("cvat", [write(tmp_path, "cam3", [track], size=5)]))
    assert frames == {f: (10, 10, 20, 20) for f in (1, 2, 3)}


def test_listed_non_keyframes_are_used_as_they_are(tmp_path):
    track = [box(0, 10, 10, 20, 20), box(1, 11.5, 10, 20, 20, keyframe=0),
             box(2, 10, 10, 20, 20)]
    frames = by_frame(collect("cvat", [write(tmp_path, "cam4", [track], size=3)]))
    assert frames[2] == (11.5, 10, 20, 20)


def test_doctype_and_entities_are_refused_before_parsing(tmp_path):
    path = tmp_path / "bomb.xml"
    path.write_text('<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "xx">]><annotations/>')
    with pytest.raises(AnnotationError, match="refusing an XML document type or entity"):
        collect("cvat", [path])


def test_broken_xml_and_bad_boxes_name_the_place(tmp_path):
    broken = tmp_path / "broken.xml"
    broken.write_text("<annotations>\n<track id='0' label='gas'>\n</annotations>")
    with pytest.raises(AnnotationError, match=r"broken\.xml: not XML \(line 3"):
        collect("cvat", [broken])
    tracks = [[box(0, 10, 10, 5, 20), box(0, 1, 1, 2, 2), '<box frame="x"/>'],
              [box(0, 10, 10, 20, 20), box(12, 10, 10, 20, 20)]]
    with pytest.raises(AnnotationError) as err:
        build_layout(collect("cvat", [write(tmp_path, "cam5", tracks, size=3)]), BuildOptions())
    text = str(err.value)
    assert "<track id=0> <box frame=0>: track already has a box on this frame" in text
    assert "<track id=0> <box frame=x>: needs an integer frame" in text
    assert "<track id=0> <box frame=0>: box x1,y1,x2,y2=10,10,5,20 has x2<=x1" in text
    assert "<track id=1> <box frame=12>: frame 13 is outside the video's frames 1-3" in text


def _splits(tmp_path, videos):
    path = tmp_path / "splits.json"
    path.write_text(json.dumps({"test": [[v] for v in videos]}))
    return path
