"""backbone.pretrained=true: timm's ImageNet weights from the Hugging Face cache or a download,
and one clear line where they cannot be had. Nothing here touches the network: the hub client
and the connection probe are replaced."""

import socket
import time

import huggingface_hub
import pytest
import timm
import torch
from huggingface_hub.errors import LocalEntryNotFoundError

from iodvideo.errors import ConfigError
from iodvideo.models import hub
from iodvideo.models.temporal import FrameBackbone, TSMBackbone


@pytest.fixture
def imagenet_file(tmp_path):
    """A resnet18 state dict standing in for timm's published ImageNet file."""
    path = tmp_path / "model.safetensors.pth"
    torch.manual_seed(0)
    torch.save(timm.create_model("resnet18", pretrained=False).state_dict(), path)
    return path


@pytest.fixture
def fake_hub(monkeypatch, imagenet_file):
    """hf_hub_download: the cache holds nothing; a download returns ``imagenet_file``."""
    calls = []

    def download(repo_id, filename, local_files_only=False, **kwargs):
        calls.append((repo_id, filename, local_files_only))
        if local_files_only:
            raise LocalEntryNotFoundError("not cached")
        return str(imagenet_file)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", download)
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: _Closing())
    for name in hub.OFFLINE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return calls


class _Closing:
    def close(self):
        pass


def test_online_pretrained_downloads_through_the_hub_and_loads_with_an_audit(fake_hub):
    backbone = FrameBackbone("resnet18", pretrained=True)
    assert ("timm/resnet18.a1_in1k", "model.safetensors", False) in fake_hub
    audit = backbone.load_audit
    assert audit is not None and len(audit.loaded) > 50 and audit.unexpected  # fc left out
    stem = timm.create_model("resnet18", pretrained=False)
    stem.load_state_dict(torch.load(audit.source, weights_only=True))
    torch.testing.assert_close(backbone.body.conv1.weight, stem.conv1.weight)


def test_temporal_backbones_fetch_the_same_way(fake_hub):
    model = TSMBackbone("resnet18", clip_len=4, pretrained=True)
    assert model.load_audit is not None and model.load_audit.loaded


def test_cached_weights_are_used_even_offline(monkeypatch, imagenet_file):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub, "hf_hub_download",
                        lambda repo_id, filename, local_files_only=False, **k: str(imagenet_file))
    assert hub.fetch_imagenet_weights("resnet18") == imagenet_file


def test_offline_setting_fails_at_once_with_one_line(monkeypatch, fake_hub):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(ConfigError) as err:
        hub.fetch_imagenet_weights("resnet18")
    assert time.monotonic() - started < 2
    message = str(err.value)
    assert "\n" not in message and "HF_HUB_OFFLINE=1" in message
    assert "backbone.weights_path=" in message
    assert all(local for _, _, local in fake_hub)  # only the cache was asked


def test_no_network_fails_at_once_naming_the_host(monkeypatch, fake_hub):
    def refuse(address, timeout=None):
        raise OSError(-2, "Name or service not known")

    monkeypatch.setattr(socket, "create_connection", refuse)
    with pytest.raises(ConfigError, match=r"cannot reach huggingface\.co.*weights_path"):
        hub.fetch_imagenet_weights("resnet18")
    assert all(local for _, _, local in fake_hub)


def test_a_failing_download_is_one_line(monkeypatch, fake_hub):
    def broken(repo_id, filename, local_files_only=False, **kwargs):
        if local_files_only:
            raise LocalEntryNotFoundError("not cached")
        raise RuntimeError("HTTP 503 from the hub\nmore detail")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", broken)
    with pytest.raises(ConfigError, match="download failed .RuntimeError: HTTP 503 from the hub.; "
                                          "download the file"):
        hub.fetch_imagenet_weights("resnet18")


def test_a_proxy_skips_the_connection_probe(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy:3128")
    monkeypatch.setattr(socket, "create_connection", pytest.fail)
    assert hub.unreachable("https://huggingface.co") is None


def test_a_connection_failure_during_download_is_not_a_missing_file(monkeypatch, fake_hub):
    def unreachable_later(repo_id, filename, local_files_only=False, **kwargs):
        raise LocalEntryNotFoundError("cannot connect and not in the cache")  # hub's own type

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", unreachable_later)
    with pytest.raises(ConfigError, match="download failed .LocalEntryNotFoundError"):
        hub.fetch_imagenet_weights("resnet18")
