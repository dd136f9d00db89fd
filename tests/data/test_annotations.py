"""Annotation loading on the real IOD-Video pickles, and refusal of unsafe or broken ones."""

import pickle

import numpy as np
import pytest

from iodvideo.data.annotations import load_annotations
from iodvideo.errors import AnnotationError, DatasetNotFoundError


def test_real_pickle_loads_and_matches_published_statistics(real_annotations):
    ann = real_annotations
    assert ann.labels == ["TrueLeakedGas"]
    assert len(ann.nframes) == 600 and sum(ann.nframes.values()) == 141_017
    assert ann.num_splits == 3
    sizes = [(len(ann.videos(s, "train")), len(ann.videos(s, "test"))) for s in (1, 2, 3)]
    assert sizes == [(404, 196), (399, 201), (397, 203)]
    tests = [set(ann.videos(s, "test")) for s in (1, 2, 3)]
    assert not (tests[0] & tests[1]) and not (tests[1] & tests[2]) and not (tests[0] & tests[2])
    assert set.union(*tests) == set(ann.nframes)
    assert all(ann.image_hw(v) == (240, 320) for v in ann.nframes)
    video = "TrueLeakedGas/002_experiment_static_clear"
    tube = ann.tube(video)
    assert tube.dtype == np.float32 and tube.shape == (ann.nframes[video], 5)


def test_visibility_subsets_match_the_shipped_subset_pickles(real_annotations, annotations_dir):
    clear = load_annotations(annotations_dir / "TrueLeakedGas_c1_290.pkl")
    vague = load_annotations(annotations_dir / "TrueLeakedGas_v1_310.pkl")
    for split in (1, 2, 3):
        assert real_annotations.videos(split, "test", "clear") == clear.videos(split, "test")
        assert real_annotations.videos(split, "test", "vague") == vague.videos(split, "test")
    counts = [len(real_annotations.videos(s, "test", "clear")) for s in (1, 2, 3)]
    assert counts == [95, 95, 100]


def test_bad_split_is_a_clear_error(real_annotations):
    with pytest.raises(AnnotationError, match="split 4 does not exist"):
        real_annotations.videos(4, "test")


def _write(path, obj):
    path.write_bytes(pickle.dumps(obj))
    return path


def _minimal(nframes=3):
    tube = np.array([[f, 1, 1, 10, 10] for f in range(1, nframes + 1)], dtype=np.float32)
    return {
        "labels": ["TrueLeakedGas"],
        "nframes": {"a": nframes},
        "resolution": {"a": (240, 320)},
        "train_videos": [[]],
        "test_videos": [["a"]],
        "gttubes": {"a": {0: [tube]}},
    }


def test_minimal_pickle_roundtrip(tmp_path):
    ann = load_annotations(_write(tmp_path / "ok.pkl", _minimal()))
    assert ann.videos(1, "test") == ["a"] and ann.tube("a").shape == (3, 5)


class Evil:
    def __reduce__(self):
        return (print, ("pwned",))


def test_unsafe_pickle_is_refused(tmp_path):
    data = _minimal()
    data["labels"] = [Evil()]
    path = _write(tmp_path / "evil.pkl", data)
    refused = r"evil\.pkl.*refusing to load global 'builtins\.print'"
    with pytest.raises(AnnotationError, match=refused):
        load_annotations(path)


def test_every_problem_is_reported_with_its_video(tmp_path):
    data = _minimal(4)
    data["nframes"]["b"] = 2
    data["resolution"]["b"] = (240, 320)
    data["gttubes"]["b"] = {0: [np.array([[1, 5, 5, 5, 9], [2, 1, 1, 4, 4]], np.float32)]}
    data["gttubes"]["a"][0][0][2, 3] = np.nan
    data["test_videos"] = [["a", "b", "ghost"]]
    with pytest.raises(AnnotationError) as info:
        load_annotations(_write(tmp_path / "bad.pkl", data))
    message = str(info.value)
    assert "bad.pkl" in message and "3 problem(s)" in message
    assert "a: tube 0 has non-finite values" in message
    assert "b: tube 0 has boxes of non-positive size at frames [1]" in message
    assert "unknown videos ['ghost']" in message


def test_partial_and_overlapping_tubes_are_valid(tmp_path):
    """Tubes may cover part of the video, skip frames and overlap each other in time; the GT
    boxes of the video are all their rows by frame (none on frame 5, two on frames 2-3)."""
    data = _minimal(3)  # frames 1-3
    data["nframes"]["a"] = 6
    late = np.array([[2, 5, 5, 9, 9], [3, 5, 5, 9, 9], [6, 5, 5, 9, 9]], np.float32)
    data["gttubes"]["a"][0].append(late)
    ann = load_annotations(_write(tmp_path / "partial.pkl", data))
    assert len(ann.tubes("a")) == 2
    boxes = ann.frame_boxes("a")
    assert boxes.dtype == np.float32 and boxes[:, 0].tolist() == [1, 2, 2, 3, 3, 6]
    np.testing.assert_array_equal(boxes[1:3, 1], [1, 5])  # one frame's rows in tube order
    with pytest.raises(AnnotationError, match="has 2 tubes, expected 1"):
        ann.tube("a")


@pytest.mark.parametrize(("frames", "message"), [
    ([1, 1, 2], "must list its frames in increasing order, each frame once"),
    ([2, 1, 3], "must list its frames in increasing order, each frame once"),
    ([0, 1, 2], r"has frames outside 1\.\.5 \(\[0\]\)"),
    ([4, 5, 6], r"has frames outside 1\.\.5 \(\[6\]\)"),
    ([1, 2.5, 3], "has non-integer frame numbers"),
])
def test_tube_frames_must_be_unique_increasing_and_inside_the_video(tmp_path, frames, message):
    data = _minimal(3)
    data["nframes"]["a"] = 5
    data["gttubes"]["a"][0][0][:, 0] = frames
    with pytest.raises(AnnotationError, match=f"a: tube 0 {message}"):
        load_annotations(_write(tmp_path / "bad.pkl", data))
    data["gttubes"]["a"][0][0] = np.zeros((0, 5), np.float32)
    with pytest.raises(AnnotationError, match=r"a: tube 0 must be an \(n, 5\) array"):
        load_annotations(_write(tmp_path / "empty.pkl", data))


def test_missing_file_and_garbage(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="nope.pkl"):
        load_annotations(tmp_path / "nope.pkl")
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    with pytest.raises(AnnotationError, match="junk.pkl"):
        load_annotations(tmp_path / "junk.pkl")
    with pytest.raises(AnnotationError, match="missing keys"):
        load_annotations(_write(tmp_path / "partial.pkl", {"labels": ["x"]}))
