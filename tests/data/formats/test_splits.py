"""The k-fold rule (seeded, balanced, scenes kept together) and split files."""

from __future__ import annotations

import json

import pytest

from iodvideo.data.formats.layout import BuildOptions, Collected, Problems, _splits
from iodvideo.data.formats.splits import SplitLists, kfold_splits, read_splits_file, scene_of
from iodvideo.errors import AnnotationError


def test_scene_key_strips_a_trailing_number_of_the_base_name():
    assert scene_of("harbour_cam2_007") == "harbour_cam2"
    assert scene_of("TrueLeakedGas/079_factory_static_clear") == (
        "TrueLeakedGas/079_factory_static_clear")  # IOD-Video: every video its own scene
    assert scene_of("x/079_factory_static_clear", r"\d+_(?P<scene>[a-z]+)_.*") == "factory"


def test_kfold_is_seeded_balanced_disjoint_and_keeps_scenes_together():
    videos = [f"s{s}_{i}" for s in range(7) for i in range(s % 3 + 1)]
    splits = kfold_splits(videos, folds=3, seed=1)
    assert splits == kfold_splits(videos, folds=3, seed=1)
    assert sorted(v for t in splits.test for v in t) == sorted(videos)
    for train, test in zip(splits.train, splits.test, strict=True):
        assert sorted(train + test) == sorted(videos)
        assert train == [v for v in videos if v in train]  # input order kept
    fold = {v: k for k, test in enumerate(splits.test) for v in test}
    for video in videos:
        assert fold[video] == fold[scene_of(video) + "_0"]
    assert max(map(len, splits.test)) - min(map(len, splits.test)) <= 1
    assert kfold_splits(videos, 3, seed=2) != splits


def test_too_few_scenes_or_a_bad_pattern_is_an_error():
    with pytest.raises(AnnotationError, match="2 scene\\(s\\) cannot fill 3 folds"):
        kfold_splits(["a_1", "a_2", "b_1"], folds=3)
    with pytest.raises(AnnotationError, match="needs a group"):
        kfold_splits(["a_1"], scene_pattern="(.+)_1")


def test_split_file_defaults_train_to_the_rest_and_is_checked(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"test": [["a"], ["b", "c"]]}))
    assert read_splits_file(path, ["a", "b", "c"]) == SplitLists([["b", "c"], ["a"]],
                                                                 [["a"], ["b", "c"]])
    path.write_text(json.dumps({"test": [["a", "zz"]], "train": [["a"]]}))
    problems = Problems()
    _splits(Collected("x"), BuildOptions(splits_file=path), ["a", "b"], problems)
    assert any("unknown videos ['zz']" in p for p in problems.items)
    assert any("both train and test ['a']" in p for p in problems.items)
    path.write_text("{")
    with pytest.raises(AnnotationError, match="not JSON"):
        read_splits_file(path, [])


def test_split_file_may_give_the_label_order(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"test": [["a"]], "labels": ["steam", "gas"]}))
    assert read_splits_file(path, ["a"]).labels == ["steam", "gas"]
    for bad in ([], ["gas", "gas"], "gas", [1]):
        path.write_text(json.dumps({"test": [["a"]], "labels": bad}))
        with pytest.raises(AnnotationError, match='"labels" must be a list of distinct'):
            read_splits_file(path, ["a"])
