"""Plain CSV import (1-based frames, resolution sources) and the CSV round trip."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from iodvideo.data.annotations import load_annotations
from iodvideo.data.formats import (
    BuildOptions,
    ImportOptions,
    export_annotations,
    import_annotations,
)
from iodvideo.errors import AnnotationError

from .helpers import assert_same, hand_built_pickle


def write(tmp_path, text, name="boxes.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_rows_become_tubes_with_a_default_resolution(tmp_path):
    path = write(tmp_path, "video,frame,x1,y1,x2,y2\n"
                           "site_1,1,10,10,20,20\nsite_1,2,11,10,21,20\n"
                           "site_2,1,0,0,5,5\nother,1,1,1,2,2\n")
    build = BuildOptions(folds=2, default_resolution=(48, 64))
    import_annotations("csv", [path], tmp_path / "out.pkl", ImportOptions(label="gas"), build)
    ann = load_annotations(tmp_path / "out.pkl")
    assert ann.labels == ["gas"] and ann.nframes == {"site_1": 2, "site_2": 1, "other": 1}
    assert set(ann.resolution.values()) == {(48, 64)}
    np.testing.assert_array_equal(ann.tube("site_1"), [[1, 10, 10, 20, 20], [2, 11, 10, 21, 20]])
    # site_1 and site_2 share scene "site": one fold holds both
    assert sorted(map(sorted, ann.test_videos)) == [["other"], ["site_1", "site_2"]]


def test_per_video_size_and_length_columns(tmp_path):
    path = write(tmp_path, "Video, Frame,x1,y1,x2,y2,label,track,width,height,nframes\n"
                           "a,1,1,1,5,5,steam,7,32,24,2\na,2,1,1,5,5,steam,7,32,24,2\n"
                           "b,1,1,1,5,5,gas,,16,8,1\n")
    import_annotations("csv", [path], tmp_path / "out.pkl", build=BuildOptions(folds=2))
    ann = load_annotations(tmp_path / "out.pkl")
    assert ann.labels == ["steam", "gas"] and ann.resolution == {"a": (24, 32), "b": (8, 16)}
    assert list(ann.gttubes["b"]) == [1]


def test_every_bad_row_is_reported_with_its_line(tmp_path):
    path = write(tmp_path, "video,frame,x1,y1,x2,y2,nframes\n"
                           "v,1,abc,0,5,5,3\n"         # 2: unparsable
                           "v,2,5,0,5,5,3\n"           # 3: x2 <= x1
                           "v,4,0,0,5,5,3\n"           # 4: beyond nframes
                           "v,1.5,0,0,5,5,3\n"         # 5: fractional frame
                           "v,3,0,0,5,5\n"             # 6: too few fields
                           "v,3,0,0,500,5,3\n"         # 7: outside the image
                           "v,3,0,0,6,6,3\n"           # 8: fine
                           "v,3,1,1,6,6,3\n")          # 9: a second box on frame 3
    with pytest.raises(AnnotationError) as err:
        import_annotations("csv", [path], tmp_path / "out.pkl",
                           build=BuildOptions(default_resolution=(48, 64)))
    text = str(err.value)
    for line, message in [(2, "cannot parse x1='abc'"), (3, "box x1,y1,x2,y2=5,0,5,5 has x2<=x1"),
                          (4, "frame 4 is outside the video's frames 1-3"),
                          (5, "cannot parse frame='1.5' (not an integer)"), (6, "has 6 fields"),
                          (7, "box x1,y1,x2,y2=0,0,500,5 lies more than 16 px outside the "
                              "64x48 image")]:
        assert f"boxes.csv: line {line}: {message}" in text
    assert ("line 9: label 'TrueLeakedGas' (no track ids) already has a box on frame 3 "
            f"(at {path}: line 8)") in text
    assert not (tmp_path / "out.pkl").exists()


def test_missing_resolution_and_missing_columns(tmp_path):
    path = write(tmp_path, "video,frame,x1,y1,x2,y2\nv,1,0,0,5,5\n")
    with pytest.raises(AnnotationError, match="video 'v' has no image size"):
        import_annotations("csv", [path], tmp_path / "out.pkl")
    path = write(tmp_path, "video,frame,x,y,w,h\n")
    with pytest.raises(AnnotationError, match=r"line 1: header .* lacks columns \['x1'"):
        import_annotations("csv", [path], tmp_path / "out.pkl")


def test_csv_round_trip_with_the_splits_file(tmp_path):
    src = hand_built_pickle(tmp_path / "in.pkl")
    written = export_annotations(src, "csv", tmp_path / "a.csv")
    assert written == [tmp_path / "a.csv", tmp_path / "a.splits.json"]
    assert (tmp_path / "a.csv").read_text().splitlines()[1] == (
        "A/x_clear,1,-3,0,40.5,30,gas,1,64,48,3")
    import_annotations("csv", [tmp_path / "a.csv"], tmp_path / "back.pkl",
                       build=BuildOptions(splits_file=tmp_path / "a.splits.json"))
    assert_same(load_annotations(src), load_annotations(tmp_path / "back.pkl"))


def test_tracks_with_gaps_late_starts_and_overlaps_become_tubes(tmp_path):
    """Gas that appears late, leaves and comes back, and a second plume at the same time:
    each run of consecutive frames of a track is one tube; frames 1 and 5 have no box."""
    path = write(tmp_path, "video,frame,x1,y1,x2,y2,track,nframes\n"
                           "v,2,1,1,5,5,a,6\nv,3,1,1,5,5,a,6\nv,6,2,2,6,6,a,6\n"
                           "v,3,10,10,20,20,b,6\nv,4,10,10,20,20,b,6\n")
    splits = write(tmp_path, '{"test": [["v"]]}', "splits.json")
    built = import_annotations("csv", [path], tmp_path / "out.pkl",
                               build=BuildOptions(splits, default_resolution=(48, 64)))
    assert built.warnings == [] and built.num_tubes == 3
    ann = load_annotations(tmp_path / "out.pkl")
    assert [t[:, 0].tolist() for t in ann.tubes("v")] == [[2, 3], [6], [3, 4]]
    assert ann.frame_boxes("v")[:, 0].tolist() == [2, 3, 3, 4, 6]


def test_a_length_taken_from_the_last_box_warns_a_given_one_does_not(tmp_path):
    rows = "video,frame,x1,y1,x2,y2{}\n" + "".join(f"{v},2,1,1,5,5{{}}\n" for v in "ab")
    build = BuildOptions(folds=2, default_resolution=(48, 64))
    path = write(tmp_path, rows.format(*[""] * 3))
    built = import_annotations("csv", [path], tmp_path / "a.pkl", build=build)
    assert built.content["nframes"] == {"a": 2, "b": 2}
    assert len(built.warnings) == 1 and "2 video(s)" in built.warnings[0]
    assert "last box" in built.warnings[0] and "a: 2" in built.warnings[0]
    path = write(tmp_path, rows.format(",nframes", ",9", ",9"))
    built = import_annotations("csv", [path], tmp_path / "b.pkl", build=build)
    assert built.content["nframes"] == {"a": 9, "b": 9} and built.warnings == []


def test_csv_round_trip_keeps_label_order_and_labels_without_boxes(tmp_path):
    """Label 1 appears first in the rows and label 2 has no box: the side file keeps both."""
    tube = np.array([[1, 1, 1, 5, 5], [2, 1, 1, 6, 5]], dtype=np.float32)
    content = {
        "labels": ["gas", "steam", "smoke"],
        "gttubes": {"v_clear": {1: [tube], 0: [tube.copy()]}, "w": {1: [tube.copy()]}},
        "nframes": {"v_clear": 3, "w": 2},
        "train_videos": [["w"]], "test_videos": [["v_clear"]],
        "resolution": {"v_clear": (48, 64), "w": (48, 64)},
    }
    src = tmp_path / "in.pkl"
    src.write_bytes(pickle.dumps(content, protocol=4))
    export_annotations(src, "csv", tmp_path / "a.csv")
    assert "steam" in (tmp_path / "a.csv").read_text().splitlines()[1]
    import_annotations("csv", [tmp_path / "a.csv"], tmp_path / "back.pkl",
                       build=BuildOptions(splits_file=tmp_path / "a.splits.json"))
    assert_same(load_annotations(src), load_annotations(tmp_path / "back.pkl"))
