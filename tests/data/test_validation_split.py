"""Held-out validation videos: carved from the training videos, seeded, never the test ones."""

import pytest

from iodvideo.data.datamodule import IODVideoDataModule
from iodvideo.errors import ConfigError


@pytest.fixture
def root(tmp_path, real_annotations):
    """The real IOD-Video annotation lists (no frames needed to split videos)."""
    import shutil

    shutil.copy(real_annotations.path, tmp_path / "TrueLeakedGas.pkl")
    return tmp_path


def test_validation_videos_are_held_out_training_videos(root):
    data = IODVideoDataModule(str(root), split=1, val_fraction=0.2, val_seed=0)
    all_train = data.annotations.videos(1, "train")
    fit, val, test = data.train_videos(), data.val_videos(), data.test_videos()
    assert len(val) == round(0.2 * len(all_train)) and len(fit) + len(val) == len(all_train)
    assert set(fit) | set(val) == set(all_train) and not set(fit) & set(val)
    assert not set(val) & set(test)
    # seeded: the same seed gives the same videos, another seed others
    assert IODVideoDataModule(str(root), val_seed=0).val_videos() == val
    assert IODVideoDataModule(str(root), val_seed=1).val_videos() != val


def test_zero_fraction_validates_on_the_test_videos_like_the_reference(root):
    data = IODVideoDataModule(str(root), split=2, val_fraction=0.0)
    assert data.val_videos() == data.test_videos()
    assert data.train_videos() == data.annotations.videos(2, "train")


def test_small_sets_hold_out_at_least_one_and_keep_one(root):
    data = IODVideoDataModule(str(root), val_fraction=0.001)
    assert len(data.val_videos()) == 1
    with pytest.raises(ConfigError, match="val_fraction"):
        IODVideoDataModule(str(root), val_fraction=1.0)


def test_ground_truth_follows_the_stage(root):
    data = IODVideoDataModule(str(root))
    videos, tubes = data.ground_truth("val")
    assert videos == data.val_videos() and set(tubes) == set(videos)
    assert data.ground_truth("test")[0] == data.test_videos()
    with pytest.raises(ValueError, match="stage"):
        data.ground_truth("train")


def test_a_synth_root_of_another_size_is_refused(root):
    """data/synth left by an older default (48 videos) must not silently stand in for 96."""
    videos = len(IODVideoDataModule(str(root)).annotations.nframes)
    IODVideoDataModule(str(root), synth={"num_videos": videos}).prepare_data()  # same: fine
    data = IODVideoDataModule(str(root), synth={"num_videos": videos + 1})
    with pytest.raises(ConfigError, match=rf"has {videos} videos.*num_videos={videos + 1}.*delete"):
        data.prepare_data()


def test_validation_clip_stride_thins_the_clips_not_the_frames(root):
    assert len(IODVideoDataModule(str(root), val_clip_stride=4).val_dataloader().dataset) < len(
        IODVideoDataModule(str(root)).val_dataloader().dataset) / 3
    # never more than K (every frame covered), never below 1
    assert IODVideoDataModule(str(root), clip_len=2, val_clip_stride=4).val_clip_stride == 2
    with pytest.raises(ConfigError, match="val_clip_stride"):
        IODVideoDataModule(str(root), val_clip_stride=0)
