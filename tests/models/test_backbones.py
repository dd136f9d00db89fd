"""Every registered backbone: the shared interface, gradients, real temporal behaviour."""

from __future__ import annotations

import pytest
import torch

from iodvideo import hardware
from iodvideo.errors import ConfigError
from iodvideo.models.detector import ClipDetector
from iodvideo.models.memory_format import channels_last_format
from iodvideo.models.registry import BACKBONES
from iodvideo.training.lightning_module import IODLitModule

from .backbone_zoo import NAMES, PAPER_NAMES, SIZE, build, clip_for, tiny_detector


def test_every_paper_backbone_is_registered():
    assert PAPER_NAMES <= set(BACKBONES)


@pytest.mark.parametrize("clip_len", [4, 8])
@pytest.mark.parametrize("name", NAMES)
def test_forward_returns_k_per_frame_maps_at_strides_4_to_32(name, clip_len):
    torch.manual_seed(0)
    model = build(name, clip_len)
    with torch.no_grad():
        features = model(clip_for(model, clip_len))  # batch 2: train-mode BN at 1×1×1 maps
    assert [tuple(f.shape) for f in features] == [
        (2 * clip_len, c, SIZE // s, SIZE // s)
        for c, s in zip(model.feature_channels, (4, 8, 16, 32), strict=True)
    ]


@pytest.mark.parametrize("name", NAMES)
def test_every_parameter_gets_a_finite_nonzero_gradient(name):
    torch.manual_seed(0)
    model = build(name, 4).train()
    features = model(clip_for(model, 4))
    # a random projection: a plain sum would cancel through BatchNorm and hide dead branches
    loss = sum((f * torch.randn_like(f)).sum() for f in features)
    loss.backward()
    assert all(torch.isfinite(f).all() for f in features)
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert no_grad == []
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())


@pytest.mark.parametrize("name", NAMES)
def test_changing_one_frame_reaches_its_neighbours_only_for_temporal_backbones(name):
    torch.manual_seed(0)
    model = build(name, 4).eval()  # eval: batch-norm statistics must not couple the frames
    clip = clip_for(model, 4, batch=1)
    edited = clip.clone()
    t = 1 + getattr(model, "context_frames", 0)  # clip frame 1 (TDN: inside its window)
    edited[:, t] += torch.randn_like(edited[:, t])
    with torch.no_grad():
        before, after = model(clip), model(edited)
    changed = [
        any(not torch.allclose(a[i], b[i]) for a, b in zip(before, after, strict=True))
        for i in range(4)
    ]
    assert changed[1]
    if name == "resnet":
        assert changed == [False, True, False, False]
    else:
        assert changed[0] or changed[2]


@pytest.mark.parametrize("name", NAMES)
def test_pretrained_true_offline_is_refused_with_instructions(name, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("iodvideo.models.hub._from_hub", lambda *a, **k: None)  # nothing cached
    with pytest.raises(ConfigError, match="offline.*weights_path"):
        build(name, 4, pretrained=True)


@pytest.mark.parametrize("name", sorted(n for n in NAMES if n != "resnet"))
def test_wrong_clip_length_is_rejected(name):
    model = build(name, 4)
    with pytest.raises(ValueError, match="expects"):
        model(torch.randn(1, 3, 3, SIZE, SIZE))


def test_tdn_takes_two_context_frames_per_side():
    model = build("tdn", 4)
    assert model.context_frames == 2
    assert len(model(torch.randn(1, 8, 3, SIZE, SIZE))) == 4


def test_tdn_motion_stem_sees_the_four_frame_differences_of_each_window():
    torch.manual_seed(0)
    model = build("tdn", 4).eval()
    video = torch.randn(2, 8, 3, SIZE, SIZE)
    # §5.5.8 as written: clip frame t (window frames t..t+4) stacks frame[t+j+1] − frame[t+j],
    # j = 0..3, colours inner, and the whole stem (pool first) runs on the 12 channels
    windows = [
        torch.cat([video[b, t + j + 1] - video[b, t + j] for j in range(4)])
        for b in range(2) for t in range(4)
    ]
    # pooling before or after the (linear) differences: the same sums of 4 pixels in another
    # order, then one 12·7·7-term conv, on O(1) values: fp32 reordering is ~1e-6
    with torch.no_grad():
        torch.testing.assert_close(
            model.motion_stem(video), model.diff_stem(torch.stack(windows)), atol=1e-5, rtol=1e-5
        )


def test_tam_pools_time_from_k8_and_keeps_it_below():
    assert build("tam", 8).stage_times == [8, 4, 2, 1]
    assert build("tam", 4).stage_times == [4, 4, 4, 4]
    assert build("tam", 4, temporal_pool=True).stage_times == [4, 2, 1, 1]


@pytest.mark.parametrize("name", ["i3d", "s3d", "tam"])
def test_strided_stages_share_one_map_between_the_frames_that_index_it(name):
    torch.manual_seed(0)
    model = build(name, 8).eval()
    with torch.no_grad():
        features = model(clip_for(model, 8, batch=1))
    # K=8, stage T = 8, 4, 2, 1: frame i reads stage frame i*T//8
    torch.testing.assert_close(features[1][2], features[1][3])
    assert not torch.allclose(features[1][1], features[1][2])
    assert all(torch.equal(features[3][0], features[3][i]) for i in range(8))


@pytest.mark.parametrize("name", ["tsm", "tin", "tam", "tea", "msnet", "tdn"])
def test_legacy_layout_changes_the_computation(name):
    torch.manual_seed(0)
    clean = build(name, 4).eval()
    legacy = build(name, 4, legacy_layout=True).eval()
    legacy.load_state_dict(clean.state_dict())
    clip = clip_for(clean, 4, batch=1)
    with torch.no_grad():
        assert not torch.allclose(clean(clip)[-1], legacy(clip)[-1])


@pytest.mark.parametrize("name", NAMES)
def test_backbone_feeds_the_unchanged_neck_and_heads(name):
    torch.manual_seed(0)
    backbone = build(name, 4)
    detector = tiny_detector(backbone)
    out = detector(clip_for(backbone, 4))
    assert out["hm"].shape == (2, 1, SIZE // 4, SIZE // 4)
    assert out["wh"].shape == (2, 8, SIZE // 4, SIZE // 4)


def _record_maps_off_the_fast_path(
    model: torch.nn.Module, video: torch.Tensor, dtype: torch.dtype
) -> list[tuple[str, str]]:
    """Hooks every leaf layer; the returned list fills with the layers that hand on a
    rank-4/5 map that is not channels-last in ``dtype``. Layers fed the raw video itself (the
    stem, TDN's difference pool) are exempt: their input is what the data loader hands over."""
    found: list[tuple[str, str]] = []
    video_storage = video.untyped_storage().data_ptr()

    def check(name: str, inputs: tuple, output: object) -> None:
        if any(
            isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() == video_storage
            for t in inputs
        ):
            return
        for t in output if isinstance(output, (list, tuple)) else [output]:
            if isinstance(t, torch.Tensor) and t.dim() in (4, 5) and t.is_floating_point():
                layout = channels_last_format(t)
                if t.dtype != dtype or not t.is_contiguous(memory_format=layout):
                    found.append((name, f"{t.dtype} {tuple(t.stride())}"))

    for name, layer in model.named_modules():
        if not any(layer.children()):
            layer.register_forward_hook(lambda _m, i, o, name=name: check(name, i, o))
    return found


def _channels_last_detector(name: str) -> tuple[ClipDetector, torch.Tensor, torch.Tensor]:
    """A tiny detector converted as training converts it, a clip, and the plain fp32 model's
    heatmap on that clip (computed before the conversion)."""
    torch.manual_seed(0)
    backbone = build(name, 4)
    detector = tiny_detector(backbone).eval()
    clip = clip_for(backbone, 4)
    with torch.no_grad():
        plain = detector(clip)["hm"]
    IODLitModule(detector, criterion=torch.nn.Identity(), optimizer=None, channels_last=True)
    weights = [p for p in detector.parameters() if p.dim() in (4, 5)]
    assert all(p.is_contiguous(memory_format=channels_last_format(p)) for p in weights)
    return detector, clip, plain


NATIVE_BF16 = hardware.cpu_has_native_bf16()
NO_NATIVE_BF16 = (
    f"bf16 is emulated on this CPU ({hardware.cpu_isa()}; torch.ops.mkldnn."
    "_is_mkldnn_bf16_supported() is False), so training defaults to fp32 and oneDNN's bf16 "
    "kernels, whose layouts this checks, are not used"
)
PATHS = [
    pytest.param(torch.float32, id="fp32"),
    pytest.param(torch.bfloat16, id="bf16",
                 marks=pytest.mark.skipif(not NATIVE_BF16, reason=NO_NATIVE_BF16)),
]


@pytest.mark.parametrize("dtype", PATHS)
@pytest.mark.parametrize("name", NAMES)
def test_channels_last_path_has_no_layout_or_dtype_conversion(name, dtype):
    """Training's default path on this CPU — channels_last, with bf16 autocast where the CPU
    computes bf16 natively and fp32 elsewhere (iodvideo.hardware) — keeps every map
    channels-last in the compute dtype, I3D/S3D's rank-5 maps included: a layer that hands on
    an NCHW or fp32 map costs a conversion in every step."""
    detector, clip, _ = _channels_last_detector(name)
    off_path = _record_maps_off_the_fast_path(detector, clip, dtype)
    autocast = torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16)
    with autocast, torch.no_grad():
        out = detector(clip)
    assert out["hm"].dtype == dtype
    assert off_path == []


def test_the_default_precision_is_one_of_the_checked_paths():
    expected = "bf16-mixed" if NATIVE_BF16 else "32"
    assert hardware.choose_precision("cpu").precision == expected


@pytest.mark.parametrize("name", NAMES)
def test_bf16_autocast_trains_every_backbone_on_any_cpu(name):
    """channels_last + bf16 autocast (native or emulated) gives the fp32 model's heatmap to
    bf16 accuracy and finite gradients for every weight, on any CPU."""
    detector, clip, plain = _channels_last_detector(name)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = detector(clip)
    assert out["hm"].dtype == torch.bfloat16
    # bf16 keeps 8 significant bits (unit roundoff 2^-9 ≈ 2e-3); rounding every layer's
    # inputs and weights through ~15 layers leaves a few 1e-2 on O(1) logits
    torch.testing.assert_close(out["hm"].float(), plain, rtol=0.05, atol=0.05)
    sum(v.float().square().mean() for v in out.values()).backward()
    weights = [p for p in detector.parameters() if p.dim() in (4, 5)]
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in weights)
