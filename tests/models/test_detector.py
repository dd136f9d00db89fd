import functools

import pytest
import torch

from iodvideo.errors import ConfigError
from iodvideo.models.detector import ClipDetector
from iodvideo.models.heads import HEATMAP_PRIOR_BIAS, ClipHeads, concat_frames
from iodvideo.models.neck import FusionNeck, L2Norm
from iodvideo.models.registry import BACKBONES
from iodvideo.models.temporal import FrameBackbone


def _tiny_detector(clip_len: int = 3) -> ClipDetector:
    return ClipDetector(
        FrameBackbone("resnet18"),
        functools.partial(FusionNeck, channels=16, out_channels=8),
        functools.partial(ClipHeads, head_conv=16, wh_head_conv=8),
        clip_len=clip_len,
    )


def test_output_shapes_follow_the_stable_interface():
    out = _tiny_detector(3)(torch.randn(2, 3, 3, 64, 64))
    assert out["hm"].shape == (2, 1, 16, 16)
    assert out["wh"].shape == (2, 6, 16, 16) and out["mov"].shape == (2, 6, 16, 16)


def test_clip_size_head_reads_every_frame_and_the_frame_head_only_its_own():
    torch.manual_seed(0)
    frames = torch.randn(2 * 3, 8, 5, 5)  # (B*K, F, h, w), K = 3
    changed = frames.clone()
    changed[0] += 1.0  # clip 0, frame 0 only
    for wh_from, frame2_moves in (("frame", False), ("clip", True)):
        heads = ClipHeads(8, clip_len=3, head_conv=4, wh_head_conv=4, wh_from=wh_from)
        with torch.no_grad():
            heads.wh[-1].bias.fill_(0.5)  # a non-zero output to compare
            a, b = heads(frames)["wh"], heads(changed)["wh"]
        assert a.shape == (2, 6, 5, 5)
        assert not torch.equal(a[0, 0:2], b[0, 0:2])  # frame 0's own size moves either way
        assert (not torch.equal(a[0, 4:6], b[0, 4:6])) == frame2_moves
        torch.testing.assert_close(a[1], b[1])  # the other clip never
    with pytest.raises(ValueError, match="wh_from must be 'frame' or 'clip'"):
        ClipHeads(8, clip_len=3, wh_from="key")


def test_backbone_returns_stage_maps_per_frame():
    feats = FrameBackbone("resnet18")(torch.randn(2, 3, 3, 64, 64))
    assert [tuple(f.shape) for f in feats] == [
        (6, 64, 16, 16), (6, 128, 8, 8), (6, 256, 4, 4), (6, 512, 2, 2)
    ]


def test_wh_head_is_per_frame_in_frame_order():
    det = _tiny_detector(3).eval()
    clip = torch.randn(1, 3, 3, 64, 64)
    swapped = clip[:, [2, 1, 0]]
    with torch.no_grad():
        a, b = det(clip)["wh"], det(swapped)["wh"]
    torch.testing.assert_close(a[:, 0:2], b[:, 4:6])
    torch.testing.assert_close(a[:, 2:4], b[:, 2:4])


def test_heads_init_and_l2norm():
    heads = ClipHeads(8, clip_len=2, head_conv=4, wh_head_conv=4)
    assert torch.all(heads.hm[-1].bias == HEATMAP_PRIOR_BIAS)
    assert not heads.mov[0].bias.any() and not heads.wh[-1].bias.any()
    x = torch.randn(2, 5, 3, 3)
    y = L2Norm(5)(x)
    torch.testing.assert_close(y.pow(2).sum(1).sqrt(), torch.full((2, 3, 3), 10.0))


def test_pretrained_offline_without_local_file_is_refused_with_instructions(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("iodvideo.models.hub._from_hub", lambda *a, **k: None)  # nothing cached
    with pytest.raises(ConfigError, match="offline.*weights_path"):
        FrameBackbone("resnet18", pretrained=True)


def test_local_weights_file_is_loaded(tmp_path):
    source = FrameBackbone("resnet18")
    path = tmp_path / "r18.pth"
    torch.save(source.body.state_dict(), path)
    loaded = FrameBackbone("resnet18", weights_path=str(path))
    torch.testing.assert_close(loaded.body.conv1.weight, source.body.conv1.weight)


def test_registry_lists_the_frame_backbone():
    assert BACKBONES["resnet"] is FrameBackbone


def test_frame_concat_is_frame_major_and_keeps_channels_last():
    frames = torch.randn(2 * 3, 4, 5, 6)
    plain = concat_frames(frames, 3)
    torch.testing.assert_close(plain[1, 4 * 2 + 1], frames[3 + 2, 1])  # clip 1, frame 2, ch 1
    fast = concat_frames(frames.contiguous(memory_format=torch.channels_last), 3)
    assert fast.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(fast, plain)


def test_l2norm_keeps_the_bf16_dtype_under_autocast():
    x = torch.randn(2, 5, 3, 3).to(torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = L2Norm(5)(x)
    assert y.dtype == torch.bfloat16
    # bf16 norm, division and output: each rounds to 8 significant bits (2^-9 ≈ 2e-3)
    torch.testing.assert_close(y.float(), L2Norm(5)(x.float()), rtol=2e-2, atol=2e-2)


def test_heatmap_has_one_channel_per_class():
    heads = functools.partial(ClipHeads, head_conv=16, wh_head_conv=8, num_classes=2)
    det = ClipDetector(FrameBackbone("resnet18"),
                       functools.partial(FusionNeck, channels=16, out_channels=8), heads, 3)
    out = det(torch.randn(2, 3, 3, 64, 64))
    assert out["hm"].shape == (2, 2, 16, 16) and out["wh"].shape == (2, 6, 16, 16)
    assert torch.all(det.heads.hm[-1].bias == HEATMAP_PRIOR_BIAS)
    # null (the config's "from the data", unresolved) and the default are the one-class model
    # of before, weight for weight
    torch.manual_seed(0)
    default = ClipHeads(8, clip_len=2, head_conv=4, wh_head_conv=4)
    torch.manual_seed(0)
    null = ClipHeads(8, clip_len=2, head_conv=4, wh_head_conv=4, num_classes=None)
    assert default.num_classes == null.num_classes == 1
    for (name, a), (_, b) in zip(default.state_dict().items(), null.state_dict().items(),
                                 strict=True):
        torch.testing.assert_close(a, b, msg=name)
    with pytest.raises(ValueError, match="num_classes must be >= 1"):
        ClipHeads(8, clip_len=2, num_classes=0)
