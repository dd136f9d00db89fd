"""data.videos / data.frames: train and score exactly the frames asked for (the few-labelled-
frames protocol: fit on a clip's first 20 %, score its other 80 %), and bad input refused with
one ConfigError line."""

from __future__ import annotations

from pathlib import Path

import pytest

from iodvideo.data.clips import clip_frames
from iodvideo.data.datamodule import IODVideoDataModule
from iodvideo.data.selection import Selection, frame_spec
from iodvideo.errors import ConfigError

VIDEO = "TrueLeakedGas/002_pipeline_static_vague"  # 40 frames, one tube over all of them
K = 4


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from iodvideo.data.synth import SynthConfig, generate_synthiod

    path = tmp_path_factory.mktemp("selection") / "synth"
    generate_synthiod(path, SynthConfig(num_videos=3, min_frames=40, max_frames=40, height=64,
                                        width=80, seed=3))
    return path


def _data(root: Path, frames: dict, videos: dict | None = None, **kwargs) -> IODVideoDataModule:
    videos = {"train": [VIDEO], "test": [VIDEO]} if videos is None else videos
    data = IODVideoDataModule(str(root), clip_len=K, input_size=32, batch_size=2,
                              eval_batch_size=4, num_workers=0, videos=videos, frames=frames,
                              **kwargs)
    data.setup("fit")
    return data


def _covered(clips) -> set[int]:
    return {f for c in clips for f in range(c.start, c.start + K)}


def test_fractions_split_one_clip_into_training_and_test_frames(root: Path) -> None:
    data = _data(root, {"train": [0.0, 0.2], "test": [0.2, 1.0]})
    # 40 frames: [0.0, 0.2] is frames 1..8, [0.2, 1.0] frames 9..40 (no overlap, no gap)
    assert data.frame_ranges("train") == {VIDEO: (1, 8)}
    assert data.frame_ranges("test") == {VIDEO: (9, 40)}
    train = data.train_dataloader().dataset
    assert [(c.video, c.start) for c in train.clips] == [(VIDEO, s) for s in range(1, 6)]
    assert _covered(train.clips) == set(range(1, 9))  # training clips end at frame 8 at most
    test = data.test_dataloader().dataset
    assert [c.start for c in test.clips] == list(range(9, 38))  # clips inside 9..40 only
    assert _covered(test.clips) == set(range(9, 41))  # every frame of the range covered
    videos, gt = data.ground_truth("test")
    assert videos == [VIDEO] and gt[VIDEO][:, 0].tolist() == list(range(9, 41))
    # the batches carry the starts the metric merges, and the frames read stay in the range
    batch = next(iter(data.test_dataloader()))
    assert batch["start"].tolist() == [9, 10, 11, 12]
    # validation (nothing named): on the training video, on its training range, never a test frame
    assert data.val_videos() == [VIDEO] and data.frame_ranges("val") == {VIDEO: (1, 8)}
    assert data.ground_truth("val")[1][VIDEO][:, 0].tolist() == list(range(1, 9))
    # calibration clips (BatchNorm recalibration) come from the training range too
    assert {c.start for c in data.calibration_dataloader(2).dataset.clips} <= set(range(1, 6))


def test_integer_frame_numbers_are_one_based_and_inclusive(root: Path) -> None:
    data = _data(root, {"train": [3, 12], "test": [20, 30]})
    assert [c.start for c in data.train_dataloader().dataset.clips] == list(range(3, 10))
    assert [c.start for c in data.test_dataloader().dataset.clips] == list(range(20, 28))
    assert data.ground_truth("test")[1][VIDEO][:, 0].tolist() == list(range(20, 31))


def test_context_frames_are_clamped_to_the_range(root: Path) -> None:
    """TDN's extra frames never reach across the border: a range is read as a cut video."""
    data = _data(root, {"train": [0.0, 0.2], "test": [0.2, 1.0]})
    data.set_context(2)
    item = data.test_dataloader().dataset[0]  # the clip at frame 9
    assert item["video"].shape[0] == K + 4
    assert clip_frames(9, K, 40, 2, first=9).tolist() == [9, 9, 9, 10, 11, 12, 13, 14]
    assert clip_frames(5, K, 8, 2).tolist() == [3, 4, 5, 6, 7, 8, 8, 8]  # training range end


def test_frames_apply_to_every_video_of_the_split(root: Path) -> None:
    data = _data(root, {"test": [0.5, 1.0]}, videos={}, split=1, val_fraction=0.0)
    test = data.test_videos()
    assert data.frame_ranges("test") == {v: (21, 40) for v in test}
    assert data.frame_ranges("val") == data.frame_ranges("test")  # validates on test
    assert data.frame_ranges("train") == {v: (1, 40) for v in data.train_videos()}


def test_named_validation_slice_of_the_labelled_frames(root: Path) -> None:
    data = _data(root, {"train": [0.0, 0.5], "val": [0.5, 0.7], "test": [0.7, 1.0]},
                 videos={"train": [VIDEO], "val": [VIDEO], "test": [VIDEO]})
    assert [data.frame_ranges(s)[VIDEO] for s in ("train", "val", "test")] == [
        (1, 20), (21, 28), (29, 40)]
    assert [c.start for c in data.val_dataloader().dataset.clips] == list(range(21, 26))


def test_overlapping_training_and_test_frames_warn(root: Path) -> None:
    with pytest.warns(UserWarning, match="same frames"):
        _data(root, {"train": [0.0, 0.5], "test": [0.4, 1.0]})


@pytest.mark.parametrize(("frames", "videos", "message"), [
    ({"test": [0.2, 0.2]}, None, r"data.frames.test=\[0.2,0.2\]: fractions need 0.0 <= start <"),
    ({"train": [0.5, 0.1]}, None, r"data.frames.train=\[0.5,0.1\]: fractions need"),
    ({"test": [30, 10]}, None, r"data.frames.test=\[30,10\]: frame numbers count from 1 and need "
                               r"start <= end"),
    ({"test": [0, 1]}, None, r"frame numbers count from 1.*as floats"),
    ({"test": [1, 400]}, None, r"data.frames.test=\[1,400\]: video .* has only 40 frames"),
    ({"train": [0.0, 0.05]}, None, r"data.frames.train=\[0.0,0.05\] gives video "
                                   r"TrueLeakedGas/002_pipeline_static_vague \(40 frames\) frames "
                                   r"1..2 \(2\), fewer than one clip of data.clip_len=4"),
    ({"test": [0.1]}, None, r"data.frames.test=\[0.1\]: give a range \[start, end\]"),
    ({"test": ["a", "b"]}, None, r"give a range"),
    ({"tests": [0.0, 1.0]}, None, r"data.frames: unknown key\(s\) \['tests'\]"),
    ({}, {"test": ["002_pipeline_static_vague"]},
     r"data.videos.test: video\(s\) not in .*TrueLeakedGas.pkl: \['002_pipeline_static_vague'\] "
     r"\(did you mean 002_pipeline_static_vague -> TrueLeakedGas/002_pipeline_static_vague\?\)"),
    ({}, {"train": ["nope"]}, r"data.videos.train: video\(s\) not in .*\['nope'\]"),
    ({}, {"test": []}, r"data.videos.test=\[\]: give a non-empty list"),
])
def test_bad_selection_is_one_config_error_line(root: Path, frames, videos, message) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        _data(root, frames, videos)
    assert "\n" not in str(caught.value)


def test_on_the_fly_training_refuses_a_training_selection(root: Path) -> None:
    with pytest.raises(ConfigError, match="data.online=null"):
        IODVideoDataModule(str(root), synth={"num_videos": 3}, online={"clips_per_epoch": 4},
                           frames={"train": [0.0, 0.2]})


def test_fraction_borders_are_exact() -> None:
    """floor(start·n)+1 .. floor(end·n), robust to float error (0.29·100 = 28.999…96)."""
    spec = frame_spec([0.29, 0.58], "data.frames.test")
    assert spec.frames("v", 100) == (30, 58)
    assert frame_spec([0.0, 0.2], "k").frames("v", 311) == (1, 62)
    assert frame_spec([0.2, 1.0], "k").frames("v", 311) == (63, 311)
    assert frame_spec(None, "k") is None
    selection = Selection.from_config(None, None)
    assert not selection.active and selection.videos["test"] is None


def test_the_configs_expose_the_keys(root: Path) -> None:
    from omegaconf import OmegaConf

    for name in ("synth", "iodvideo", "videos"):
        cfg = OmegaConf.load(Path(__file__).parents[2] / "conf" / "data" / f"{name}.yaml")
        assert OmegaConf.to_container(cfg.frames) == {"train": None, "val": None, "test": None}
        assert OmegaConf.to_container(cfg.videos) == {"train": None, "val": None, "test": None}
