"""Checkpoints rebuild their detector without the training run's starting weights."""

import torch

from cli_support import built_checkpoint
from iodvideo.checkpointing import CONFIG_KEY, LABELS_KEY, load_detector


def test_a_checkpoint_trained_from_imagenet_loads_offline_without_fetching(
    tmp_path, monkeypatch
):
    path = built_checkpoint(tmp_path / "tsm.ckpt", "tsm")
    ckpt = torch.load(path, weights_only=True)
    ckpt[CONFIG_KEY]["model"]["backbone"].update(
        {"pretrained": True, "weights_path": "/training/machine/only/resnet18.pth"})
    torch.save(ckpt, path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))

    def no_fetch(*args, **kwargs):
        raise AssertionError("a checkpoint load must not fetch ImageNet weights")

    monkeypatch.setattr("iodvideo.models.weights.fetch_imagenet_weights", no_fetch)
    detector, config = load_detector(path)
    assert config["model"]["backbone"]["pretrained"] is True  # the config stays as trained
    state = {k.removeprefix("detector."): v for k, v in ckpt["state_dict"].items()}
    for key, value in detector.state_dict().items():
        torch.testing.assert_close(value, state[key])


def test_a_two_class_checkpoint_rebuilds_two_heatmap_channels(tmp_path):
    path = built_checkpoint(tmp_path / "two.ckpt", "resnet", "model.heads.num_classes=2")
    ckpt = torch.load(path, weights_only=True)
    ckpt[CONFIG_KEY][LABELS_KEY] = ["gas", "steam"]
    torch.save(ckpt, path)
    detector, config = load_detector(path)
    assert detector.heads.num_classes == 2 and config[LABELS_KEY] == ["gas", "steam"]
    with torch.no_grad():
        out = detector(torch.randn(1, detector.frames_per_clip, 3, 64, 64))
    assert out["hm"].shape == (1, 2, 16, 16)


def test_a_checkpoint_from_before_classes_still_loads_as_one_class(tmp_path):
    path = built_checkpoint(tmp_path / "old.ckpt", "resnet")
    ckpt = torch.load(path, weights_only=True)
    del ckpt[CONFIG_KEY]["model"]["heads"]["num_classes"]  # the key did not exist then
    assert LABELS_KEY not in ckpt[CONFIG_KEY]
    torch.save(ckpt, path)
    detector, config = load_detector(path)
    assert detector.heads.hm[-1].out_channels == 1 and config.get(LABELS_KEY) is None
