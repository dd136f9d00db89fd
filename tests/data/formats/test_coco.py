"""COCO import (per-frame images and COCO-video) and the lossless COCO round trip."""

from __future__ import annotations

import json

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

from .helpers import assert_same, hand_built_pickle, real_pickle


def round_trip(src, tmp_path):
    export_annotations(src, "coco", tmp_path / "a.json")
    import_annotations("coco", [tmp_path / "a.json"], tmp_path / "back.pkl")
    return load_annotations(src), load_annotations(tmp_path / "back.pkl")


def test_round_trip_of_a_hand_built_pickle_is_lossless(tmp_path):
    original, back = round_trip(hand_built_pickle(tmp_path / "in.pkl"), tmp_path)
    assert_same(original, back)
    doc = json.loads((tmp_path / "a.json").read_text())
    assert [c["name"] for c in doc["categories"]] == ["gas", "steam"]
    assert doc["images"][0]["file_name"] == "A/x_clear/00001.png"
    assert doc["images"][0]["frame_id"] == 0 and doc["videos"][0]["length"] == 3
    assert doc["annotations"][0]["bbox"] == [-3.0, 0.0, 43.5, 30.0]


@pytest.mark.parametrize("name", ["TrueLeakedGas_c1_290.pkl"])
def test_round_trip_of_a_real_pickle_is_lossless(tmp_path, name):
    original, back = round_trip(real_pickle(name), tmp_path)
    assert len(back.nframes) == 290 and back.num_splits == 3
    assert_same(original, back)


def write(tmp_path, doc, name="in.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_per_frame_images_parse_video_and_frame_from_file_names(tmp_path):
    images = [{"id": i, "file_name": f"079_{f:05d}.png", "width": 320, "height": 240,
               "video_length": 3} for i, f in enumerate([1, 2, 3], start=10)]
    images += [{"id": 20 + f, "file_name": f"frames/080_{f:05d}.png", "width": 100,
                "height": 50} for f in (1, 2)]
    anns = [{"id": i, "image_id": img["id"], "category_id": 7, "bbox": [10, 20, 30 + i, 40]}
            for i, img in enumerate(images)]
    doc = {"images": images, "annotations": anns, "categories": [{"id": 7, "name": "leak"}]}
    built = import_annotations("coco", [write(tmp_path, doc)], tmp_path / "out.pkl",
                               build=BuildOptions(folds=2))
    ann = load_annotations(tmp_path / "out.pkl")
    assert ann.labels == ["leak"] and built.warnings == []
    assert ann.nframes == {"079": 3, "080": 2}
    assert ann.resolution == {"079": (240, 320), "080": (50, 100)}
    np.testing.assert_array_equal(ann.tube("079")[:, 0], [1, 2, 3])
    np.testing.assert_array_equal(ann.tube("080")[1], [2, 10, 20, 44, 60])
    assert sorted(ann.test_videos[0] + ann.test_videos[1]) == ["079", "080"]


def test_a_custom_file_name_pattern_and_frame_base(tmp_path):
    images = [{"id": f, "file_name": f"clipA-f{f}.jpg", "width": 64, "height": 48}
              for f in range(0, 4)]
    anns = [{"id": f, "image_id": f, "category_id": 1, "bbox": [1, 1, 5, 5]} for f in range(4)]
    doc = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "gas"}],
           "splits": {"test": [["clipA"]], "train": [[]]}}
    options = ImportOptions(frame_base=0, filename_pattern=r"(?P<video>\w+)-f(?P<frame>\d+)\.jpg")
    import_annotations("coco", [write(tmp_path, doc)], tmp_path / "out.pkl", options)
    ann = load_annotations(tmp_path / "out.pkl")
    assert ann.nframes == {"clipA": 4} and ann.test_videos == [["clipA"]]


def test_coco_video_tracks_become_tubes(tmp_path):
    videos = [{"id": 1, "name": "cam/one", "width": 64, "height": 48, "length": 2}]
    images = [{"id": 5 + f, "video_id": 1, "frame_id": f} for f in range(2)]
    anns = [{"id": 1, "image_id": 5, "category_id": 1, "track_id": 3, "bbox": [0, 0, 4, 4]},
            {"id": 2, "image_id": 6, "category_id": 1, "track_id": 3, "bbox": [1, 0, 4, 4]},
            {"id": 3, "image_id": 5, "category_id": 1, "track_id": 4, "bbox": [9, 9, 4, 4]},
            {"id": 4, "image_id": 6, "category_id": 1, "track_id": 4, "bbox": [9, 9, 5, 4]}]
    doc = {"videos": videos, "images": images, "annotations": anns,
           "categories": [{"id": 1, "name": "gas"}],
           "splits": {"test": [["cam/one"]], "train": [[]]}}
    built = import_annotations("coco", [write(tmp_path, doc)], tmp_path / "out.pkl")
    assert built.num_tubes == 2 and built.warnings == []
    tubes = load_annotations(tmp_path / "out.pkl").tubes("cam/one")
    np.testing.assert_array_equal(tubes[0], [[1, 0, 0, 4, 4], [2, 1, 0, 5, 4]])
    np.testing.assert_array_equal(tubes[1], [[1, 9, 9, 13, 13], [2, 9, 9, 14, 13]])


def test_every_problem_is_reported_at_once(tmp_path):
    videos = [{"id": 1, "name": "v", "width": 64, "height": 48, "length": 2}]
    images = [{"id": f, "video_id": 1, "frame_id": f} for f in range(3)]
    anns = [{"id": 1, "image_id": 0, "category_id": 9, "bbox": [0, 0, 4, 4]},
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [0, 0, -1, 4]},
            {"id": 3, "image_id": 2, "category_id": 1, "bbox": [0, 0, 4, 4]},
            {"id": 4, "image_id": 77, "category_id": 1, "bbox": "wide"},
            {"id": 5, "image_id": 1, "category_id": 1, "bbox": [200, 0, 4, 4]}]
    doc = {"videos": videos, "images": images, "annotations": anns,
           "categories": [{"id": 1, "name": "gas"}]}
    out = tmp_path / "out.pkl"
    with pytest.raises(AnnotationError) as err:
        import_annotations("coco", [write(tmp_path, doc)], out)
    text = str(err.value)
    assert "annotations[0]: unknown category_id 9" in text
    assert "annotations[1]: box x1,y1,x2,y2=0,0,-1,4 has x2<=x1" in text
    assert "annotations[2]: frame 3 is outside the video's frames 1-2" in text
    assert "annotations[3]: image_id 77" in text and "annotations[3]: bbox 'wide'" in text
    assert "annotations[4]: box x1,y1,x2,y2=200,0,204,4 lies more than 16 px outside" in text
    assert not out.exists() and not list(tmp_path.glob(".*partial"))


def test_not_json_names_the_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"images": [\n  1,,\n]}')
    with pytest.raises(AnnotationError, match=r"bad\.json: not JSON \(line 2 column 5"):
        import_annotations("coco", [path], tmp_path / "out.pkl")


def test_video_length_defaults_to_the_last_image_listed(tmp_path):
    """Ten images and one box on frame 2: the video has 10 frames, not 2 (both flavours)."""
    images = [{"id": f, "file_name": f"v_{f:05d}.png", "width": 64, "height": 48}
              for f in range(1, 11)]
    anns = [{"id": 1, "image_id": 2, "category_id": 1, "bbox": [1, 1, 5, 5]}]
    doc = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "gas"}],
           "splits": {"test": [["v"]], "train": [[]]}}
    built = import_annotations("coco", [write(tmp_path, doc)], tmp_path / "a.pkl")
    assert built.content["nframes"] == {"v": 10} and built.warnings == []
    doc["videos"] = [{"id": 1, "name": "v", "width": 64, "height": 48}]
    doc["images"] = [{"id": f + 1, "video_id": 1, "frame_id": f} for f in range(10)]
    built = import_annotations("coco", [write(tmp_path, doc)], tmp_path / "b.pkl")
    assert built.content["nframes"] == {"v": 10} and built.warnings == []


def test_malformed_ids_and_non_finite_numbers_are_problems_not_tracebacks(tmp_path):
    videos = [{"id": [1], "name": "bad"}, {"id": 1, "name": "v", "width": float("inf"),
                                          "height": 48, "length": float("nan")}]
    images = [{"id": [5], "video_id": 1, "frame_id": 0},
              {"id": 6, "video_id": {"x": 1}, "frame_id": 0},
              {"id": 7, "video_id": 1, "frame_id": 0}]
    anns = [{"id": 1, "image_id": [7], "category_id": 1, "bbox": [0, 0, 4, 4]},
            {"id": 2, "image_id": 7, "category_id": [1], "bbox": [0, 0, 4, 4]}]
    doc = {"videos": videos, "images": images, "annotations": anns,
           "categories": [{"id": [1], "name": "x"}, {"id": 1, "name": "gas"}]}
    with pytest.raises(AnnotationError) as err:
        import_annotations("coco", [write(tmp_path, doc)], tmp_path / "out.pkl")
    text = str(err.value)
    for message in ("categories[0]: id [1] is not an integer or string",
                    "videos[0]: id [1] is not an integer or string",
                    "videos[1]: width inf is not a positive integer",
                    "videos[1]: length nan is not a positive integer",
                    "images[0]: id [5] is not an integer or string",
                    "images[1]: video_id {'x': 1} is not in videos",
                    "annotations[0]: image_id [7] is not a valid image",
                    "annotations[1]: unknown category_id [1]"):
        assert message in text


@pytest.mark.parametrize(("pattern", "reason"), [
    ("(", "not a regex"), (r"(?P<video>.+)_(\d+)\.png", "needs groups"),
])
def test_a_bad_file_name_pattern_is_one_error_naming_the_option(tmp_path, pattern, reason):
    """Also in COCO-video, where only images without frame_id use the pattern."""
    doc = {"videos": [{"id": 1, "name": "v", "width": 64, "height": 48}],
           "images": [{"id": 1, "video_id": 1, "file_name": "v_00001.png"}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 4, 4]}],
           "categories": [{"id": 1, "name": "gas"}]}
    with pytest.raises(AnnotationError, match=f"--filename-pattern .*{reason}"):
        import_annotations("coco", [write(tmp_path, doc)], tmp_path / "out.pkl",
                           ImportOptions(filename_pattern=pattern))
