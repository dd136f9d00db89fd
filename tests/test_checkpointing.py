"""Checkpoints rebuild their detector without the training run's starting weights."""

import torch

from cli_support import built_checkpoint
from iodvideo.checkpointing import CONFIG_KEY, load_detector


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
