"""Training on several classes, in process: the heatmap follows the data's labels, the class
names travel in the checkpoint, and a class count that disagrees with the data is refused."""

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir

from classes_support import LABELS, video_name, write_two_class_root
from iodvideo.checkpointing import CONFIG_KEY, LABELS_KEY, load_detector
from iodvideo.config import CONFIG_DIR
from iodvideo.errors import ConfigError
from iodvideo.train import set_num_classes, train, validation_videos


def _config(root: Path, out: Path, *overrides: str):
    """``experiment=smoke`` on the two-class folder: one training batch, no validation or
    test (their decoding is not this test's business), CSV logs and the last checkpoint in
    ``out``: seconds on a CPU."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=[
            "experiment=smoke", "data=iodvideo", f"data.root={root}", "data.synth=null",
            "backbone=resnet", f"paths.output_dir={out}", "trainer.limit_train_batches=1",
            "+trainer.limit_val_batches=0", "test_after_fit=false", "callbacks.val_images=null",
            "callbacks.progress_bar=null", "callbacks.bn_calibration=null",
            "callbacks.checkpoint=null", "logger=csv", "keep_freed_memory=false",
            *overrides,
        ])


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write_two_class_root(tmp_path / "data")


def test_num_classes_follows_the_data_unless_set_otherwise(root, tmp_path):
    from hydra.utils import instantiate

    cfg = _config(root, tmp_path)
    assert cfg.model.heads.num_classes is None
    data = instantiate(cfg.data)
    set_num_classes(cfg, data)
    assert cfg.model.heads.num_classes == 2
    set_num_classes(_config(root, tmp_path, "model.heads.num_classes=2"), data)  # agrees
    with pytest.raises(ConfigError, match=r"model.heads.num_classes=1 but .*TrueLeakedGas.pkl "
                                          r"has 2 class\(es\) \['gas', 'steam'\]; set "
                                          r"model.heads.num_classes=null"):
        set_num_classes(_config(root, tmp_path, "model.heads.num_classes=1"), data)


def test_a_two_class_run_trains_two_channels_and_stores_the_labels(root, tmp_path):
    out = tmp_path / "run"
    train(_config(root, out))
    last = out / "checkpoints" / "last.ckpt"
    config = torch.load(last, weights_only=True)[CONFIG_KEY]
    assert config[LABELS_KEY] == LABELS and config["model"]["heads"]["num_classes"] == 2
    detector, _ = load_detector(last)
    with torch.no_grad():
        hm = detector(torch.randn(1, detector.frames_per_clip, 3, 64, 64))["hm"]
    assert hm.shape == (1, 2, 16, 16)


@pytest.mark.parametrize(("overrides", "expected"), [
    ((), "split 1 validation videos (1 held-out training videos)"),
    ((f"data.videos.val=[{video_name(2)},{video_name(3)}]",),
     "the 2 validation video(s) named by data.videos.val"),
    ((f"data.videos.train=[{video_name(1)}]",),
     "the 1 training video(s) named by data.videos.train (nothing held out)"),
    (("data.val_fraction=0",), "split 1 test videos (1, data.val_fraction=0)"),
])
def test_the_final_line_says_which_videos_validation_ran_on(root, tmp_path, overrides,
                                                             expected):
    from hydra.utils import instantiate

    data = instantiate(_config(root, tmp_path, *overrides).data)
    data.prepare_data()
    assert validation_videos(data) == expected
