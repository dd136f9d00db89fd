"""Legacy mode orders the neck as the reference does; the default batches it (unchanged).

Every expected value here is built by hand from the modules' own layers (``level2`` … ``fuse``)
in the order protocol §5.2/§5.4 describe, on a deep copy of the model in the same state, so the
comparison holds the detector's routing to the reference's order, not to itself.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from iodvideo.models.detector import ClipDetector
from iodvideo.models.per_frame import uses_batch_statistics

from .backbone_zoo import NAMES, build, clip_for, tiny_detector

K = 4
EXACT = {"rtol": 0.0, "atol": 0.0}


def _detector(name: str, **kwargs: object) -> ClipDetector:
    torch.manual_seed(0)
    if name == "tam":
        kwargs.setdefault("temporal_pool", True)  # stage T = 4, 2, 1, 1: exercises selection
    return tiny_detector(build(name, K, **kwargs), K)


def _batchnorms(module: nn.Module) -> list[nn.BatchNorm2d]:
    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def _assert_same_running_stats(a: nn.Module, b: nn.Module) -> None:
    for x, y in zip(_batchnorms(a), _batchnorms(b), strict=True):
        torch.testing.assert_close(x.running_mean, y.running_mean, **EXACT)
        torch.testing.assert_close(x.running_var, y.running_var, **EXACT)
        assert x.num_batches_tracked == y.num_batches_tracked


def _hand_neck(neck: nn.Module, s2, s3, s4, s5) -> torch.Tensor:  # noqa: ANN001
    """The neck written out: L2Norm + upsampling per level, concat, fusion."""
    levels = [neck.level2(s2), neck.level3(s3), neck.level4(s4), neck.level5(s5)]
    return neck.fuse(torch.cat(levels, dim=1))


def _per_frame(fn, maps: list[torch.Tensor]) -> torch.Tensor:  # noqa: ANN001
    """``fn`` once per frame on the (B, ...) rows of each clip-major map, re-stacked."""
    rows = [m.view(-1, K, *m.shape[1:]) for m in maps]
    return torch.stack([fn(*[r[:, k] for r in rows]) for k in range(K)], dim=1).flatten(0, 1)


def _stage_maps(backbone: nn.Module, video: torch.Tensor, name: str) -> list[torch.Tensor]:
    """The four (B·T_s) maps the reference's neck reads, caught by hooks on a forward: the
    stage outputs — for TDN's level 1, the scrambled layer1 stack that layer2 reads."""
    caught: dict[int, torch.Tensor] = {}
    hooks = []
    for i in range(1, 5):
        layer = getattr(backbone.body, f"layer{i}")
        if name == "tdn" and i == 2:
            hooks.append(layer.register_forward_pre_hook(
                lambda _m, args: caught.__setitem__(1, args[0])))
        if not (name == "tdn" and i == 1):
            hooks.append(layer.register_forward_hook(
                lambda _m, _a, out, i=i: caught.__setitem__(i, out)))
    backbone(video)
    for hook in hooks:
        hook.remove()
    return [caught[i] for i in range(1, 5)]


def _reference_order(detector: ClipDetector, video: torch.Tensor, name: str) -> torch.Tensor:
    """TAM/TDN as the reference computes them: L2Norm + upsampling on the (B·T_s) map, then
    the plain reshape (B·T, C, H, W) → (B, C, T, H, W) and frame i = time slice i·T // K, then
    the fusion once per frame."""
    neck = detector.neck
    maps = _stage_maps(detector.backbone, video, name)
    upsampled = [neck.level2(maps[0]), neck.level3(maps[1]), neck.level4(maps[2]),
                 neck.level5(maps[3])]
    per_level = []
    for level in upsampled:
        rows, channels, h, w = level.shape
        batch = video.shape[0]
        time = rows // batch
        stacked = level.reshape(batch, channels, time, h, w)  # the reference's bare reshape
        per_level.append([stacked[:, :, i * time // K] for i in range(K)])
    frames = [neck.fuse(torch.cat([lvl[i] for lvl in per_level], dim=1)) for i in range(K)]
    return torch.stack(frames, dim=1).flatten(0, 1)



def _twin(name: str, train: bool = True, **overrides):
    """A tiny detector in train/eval mode, an identical copy to build the reference with, and
    a clip for it."""
    detector = _detector(name, **overrides).train(train)
    return detector, copy.deepcopy(detector), clip_for(detector.backbone, K)

@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("name", ["tam", "tdn"])
def test_legacy_tam_tdn_normalise_and_upsample_before_the_output_reshape(name, train):
    detector = _detector(name, legacy_layout=True).train(train)
    reference, reshape_first = copy.deepcopy(detector), copy.deepcopy(detector)
    video = clip_for(detector.backbone, K)
    with torch.no_grad():
        got = detector.frame_features(video)
        expected = _reference_order(reference, video, name)
        old_order = _hand_neck(reshape_first.neck, *reshape_first.backbone(video))
    # train: the same ops in the same order (bit for bit); eval: the model fuses all frames
    # in one call, the reference once per frame — the same function up to summation order
    torch.testing.assert_close(got, expected, **(EXACT if train else {}))
    if train:
        _assert_same_running_stats(detector, reference)
    assert not torch.allclose(got, old_order, atol=1e-3)  # reshape first: not the reference


@pytest.mark.parametrize("name", ["tea", "msnet", "i3d", "s3d"])
def test_legacy_training_runs_the_whole_neck_once_per_frame(name):
    detector, reference, video = _twin(name, legacy_layout=True, train=True)
    with torch.no_grad():
        got = detector.frame_features(video)
        expected = _per_frame(lambda *f: _hand_neck(reference.neck, *f),
                              reference.backbone(video))
    torch.testing.assert_close(got, expected, **EXACT)
    _assert_same_running_stats(detector, reference)
    assert all(bn.num_batches_tracked == K for bn in _batchnorms(detector.neck))


@pytest.mark.parametrize("name", ["tea", "msnet", "i3d", "s3d", "tam", "tdn"])
def test_legacy_per_frame_neck_is_the_batched_function_in_eval_mode(name):
    detector = _detector(name, legacy_layout=True)
    video = clip_for(detector.backbone, K)
    detector.train()
    with torch.no_grad():
        detector.frame_features(video)  # running statistics that are not the init values
    detector.eval()
    with torch.no_grad():
        got = detector.frame_features(video)
        backbone, neck = detector.backbone, detector.neck
        maps, times = backbone.stage_maps(video)
        if name in ("tam", "tdn"):
            batched = neck.fuse_levels(backbone.frame_maps(neck.upsample(maps), times))
        else:
            batched = neck(backbone.frame_maps(maps, times))
    torch.testing.assert_close(got, batched, **EXACT)


def test_resnet_legacy_per_frame_runs_the_whole_network_once_per_frame():
    detector, reference, video = _twin("resnet", legacy_per_frame=True, train=True)
    with torch.no_grad():
        got = detector.frame_features(video)
        frames = [
            _hand_neck(reference.neck, *reference.backbone.body(video[:, k])) for k in range(K)
        ]
        expected = torch.stack(frames, dim=1).flatten(0, 1)
    torch.testing.assert_close(got, expected, **EXACT)
    _assert_same_running_stats(detector, reference)
    assert all(bn.num_batches_tracked == K for bn in _batchnorms(detector))


def test_resnet_legacy_per_frame_is_the_batched_network_in_eval_mode():
    legacy = _detector("resnet", legacy_per_frame=True)
    clean = _detector("resnet")
    video = clip_for(clean.backbone, K)
    for model in (legacy, clean):
        model.train()
        with torch.no_grad():
            model(video)
    clean.load_state_dict(legacy.state_dict())
    legacy.eval(), clean.eval()
    with torch.no_grad():
        torch.testing.assert_close(legacy(video)["hm"], clean(video)["hm"])


@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
@pytest.mark.parametrize("name", NAMES)
def test_default_neck_is_one_batched_call_on_the_per_frame_maps(name, train):
    detector, reference, video = _twin(name, train=train)
    with torch.no_grad():
        got = detector.frame_features(video)
        expected = _hand_neck(reference.neck, *reference.backbone(video))
    torch.testing.assert_close(got, expected, **EXACT)
    if train:
        _assert_same_running_stats(detector, reference)
        assert all(bn.num_batches_tracked == 1 for bn in _batchnorms(detector.neck))


@pytest.mark.parametrize("name", ["tsm", "tin"])
def test_legacy_tsm_tin_keep_one_batched_neck_call_as_the_reference(name):
    detector, reference, video = _twin(name, legacy_layout=True, train=True)
    with torch.no_grad():
        got = detector.frame_features(video)
        expected = _hand_neck(reference.neck, *reference.backbone(video))
    torch.testing.assert_close(got, expected, **EXACT)
    assert all(bn.num_batches_tracked == 1 for bn in _batchnorms(detector.neck))


def test_batch_statistics_follow_the_batchnorms_not_the_module():
    neck = _detector("tsm").neck.eval()
    assert not uses_batch_statistics(neck)
    for bn in _batchnorms(neck):  # what iodvideo.training.bn_calibration does
        bn.train()
    assert uses_batch_statistics(neck)
