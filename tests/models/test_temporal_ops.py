"""Temporal ops against naive loops of their definitions (protocol §5.4, §5.5)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from iodvideo.models.temporal.interlace import TemporalInterlace, fractional_temporal_shift
from iodvideo.models.temporal.layout import (
    frames_from_clip,
    frames_to_clip_len,
    legacy_frames_from_features,
)
from iodvideo.models.temporal.motion_squeeze import (
    local_correlation,
    local_correlation_reference,
    soft_argmax_flow,
)
from iodvideo.models.temporal.shift import LearnableTemporalShift, temporal_shift

from .backbone_zoo import build


def test_tsm_shift_matches_its_definition():
    n, t, c = 2, 5, 16
    x = torch.randn(n * t, c, 3, 3)
    out = temporal_shift(x, t).view(n, t, c, 3, 3)
    clip, fold = x.view(n, t, c, 3, 3), c // 8
    for b in range(n):
        for i in range(t):
            for ch in range(c):
                if ch < fold:
                    want = clip[b, i + 1, ch] if i + 1 < t else torch.zeros(3, 3)
                elif ch < 2 * fold:
                    want = clip[b, i - 1, ch] if i >= 1 else torch.zeros(3, 3)
                else:
                    want = clip[b, i, ch]
                torch.testing.assert_close(out[b, i, ch], want)


def test_learnable_shift_starts_as_the_tsm_shift():
    x = torch.randn(3 * 4, 16, 2, 2)
    torch.testing.assert_close(LearnableTemporalShift(16, 4, fold=2)(x), temporal_shift(x, 4))
    torch.testing.assert_close(LearnableTemporalShift(16, 4)(x), x)


def _naive_interlace(clip: torch.Tensor, shifts: torch.Tensor) -> torch.Tensor:
    """§5.5.3 / CUDA-op semantics, element by element: an integer move ``out[t+k] = in[t]``
    (zero outside, no gradient w.r.t. k) blended by the differentiable weights 1−a and a."""
    n, t, g = clip.shape[:3]
    rows = []
    for b in range(n):
        frames = []
        for i in range(t):
            groups = []
            for j in range(g):
                k = math.floor(shifts[b, j].item())
                a = shifts[b, j] - k
                value = torch.zeros_like(clip[b, 0, j])
                for src, weight in ((i - k, 1 - a), (i - k - 1, a)):
                    if 0 <= src < t:
                        value = value + weight * clip[b, src, j]
                groups.append(value)
            frames.append(torch.stack(groups))
        rows.append(torch.stack(frames))
    return torch.stack(rows)


def test_tin_fractional_shift_matches_a_naive_loop_in_values_and_gradients():
    torch.manual_seed(0)
    clip = torch.randn(2, 5, 4, 3, 2, 2, requires_grad=True)
    shifts = torch.tensor([[0.5, -1.25, 1.9, -0.4], [2.7, 0.0, -3.5, 6.0]], requires_grad=True)
    upstream = torch.randn(2, 5, 4, 3, 2, 2)
    fast = fractional_temporal_shift(clip, shifts)
    grads_fast = torch.autograd.grad((fast * upstream).sum(), (clip, shifts))
    slow = _naive_interlace(clip, shifts)
    grads_slow = torch.autograd.grad((slow * upstream).sum(), (clip, shifts))
    torch.testing.assert_close(fast, slow)
    for a, b in zip(grads_fast, grads_slow, strict=True):
        torch.testing.assert_close(a, b)


def test_tin_integer_shift_moves_frames_and_half_shift_averages():
    clip = torch.arange(4.0).view(1, 4, 1, 1)
    moved = fractional_temporal_shift(clip, torch.tensor([[1.0]])).flatten()
    torch.testing.assert_close(moved, torch.tensor([0.0, 0.0, 1.0, 2.0]))
    half = fractional_temporal_shift(clip, torch.tensor([[-0.5]])).flatten()
    torch.testing.assert_close(half, torch.tensor([0.5, 1.5, 2.5, 1.5]))


def test_tin_module_starts_near_half_frame_offsets_and_keeps_other_channels():
    torch.manual_seed(0)
    module = TemporalInterlace(64, time=4)
    x = torch.randn(2 * 4, 64, 3, 3)
    shifts, weights = module.offsets_and_weights(x.view(2, 4, 64, 3, 3))
    assert shifts.shape == (2, 4) and weights.shape == (2, 4, 4)
    torch.testing.assert_close(shifts[:, 2:], -shifts[:, :2])
    assert ((shifts[:, :2] - 0.5).abs() < 0.5).all()
    torch.testing.assert_close(module(x)[:, module.fold :], x[:, module.fold :])


def _naive_correlation(a: torch.Tensor, b: torch.Tensor, r: int) -> torch.Tensor:
    n, c, h, w = a.shape
    out = torch.zeros(n, (2 * r + 1) ** 2, h, w)
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            for y in range(h):
                for x in range(w):
                    if 0 <= y + dy < h and 0 <= x + dx < w:
                        k = (dy + r) * (2 * r + 1) + dx + r
                        out[:, k, y, x] = (a[:, :, y, x] * b[:, :, y + dy, x + dx]).sum(1)
    return out


@pytest.mark.parametrize("radius", [1, 7])
def test_msnet_correlation_matches_a_naive_loop(radius):
    torch.manual_seed(0)
    a, b = torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)
    torch.testing.assert_close(local_correlation(a, b, radius), _naive_correlation(a, b, radius))


@pytest.mark.parametrize("radius", [1, 2])
def test_msnet_correlation_gradients_are_exact(radius):
    torch.manual_seed(0)
    a, b = (torch.randn(2, 3, 4, 5, dtype=torch.float64, requires_grad=True) for _ in range(2))
    assert torch.autograd.gradcheck(lambda a, b: local_correlation(a, b, radius), (a, b))


def test_msnet_correlation_backward_matches_autograd_and_keeps_channels_last():
    torch.manual_seed(0)
    maps = [torch.randn(2, 6, 5, 7).contiguous(memory_format=torch.channels_last) for _ in "ab"]
    grads = []
    for correlation in (local_correlation, local_correlation_reference):
        a, b = (m.clone().requires_grad_() for m in maps)
        out = correlation(a, b, 2)
        out.backward(torch.linspace(-1, 1, out.numel()).view_as(out))
        grads.append((a.grad, b.grad))
    for ours, autograd in zip(*grads, strict=True):
        torch.testing.assert_close(ours, autograd)
        assert ours.is_contiguous(memory_format=torch.channels_last)


def test_soft_argmax_finds_a_single_peak():
    corr = torch.zeros(1, 225, 2, 2)
    corr[:, (3 + 7) * 15 + (-5 + 7)] = 1.0  # dy = 3, dx = -5
    flow = soft_argmax_flow(corr)
    # softmax at temperature 100 leaves e^-100 on the other displacements: the flow is exact
    # up to rounding; 1e-3 is far below the 1/7 between neighbouring displacements
    torch.testing.assert_close(flow[:, 0], torch.full((1, 2, 2), -5 / 7), atol=1e-3, rtol=0)
    torch.testing.assert_close(flow[:, 1], torch.full((1, 2, 2), 3 / 7), atol=1e-3, rtol=0)
    torch.testing.assert_close(flow[:, 2], torch.ones(1, 2, 2))


def _naive_flow(corr: torch.Tensor, r: int = 7, sigma: float = 5.0,
                t: float = 100.0) -> torch.Tensor:
    """The displacement readout pixel by pixel, as protocol §5.5.6 states it: ReLU, the
    confidence and its (first) argmax displacement, a Gaussian around it, softmax at t,
    soft-argmax over (dx, dy) normalised by r."""
    n, k, h, w = corr.shape
    size = 2 * r + 1
    out = torch.zeros(n, 3, h, w, dtype=torch.float64)
    for b in range(n):
        for y in range(h):
            for x in range(w):
                c = [max(float(v), 0.0) for v in corr[b, :, y, x]]
                best = max(range(k), key=lambda i: (c[i], -i))  # first of equal maxima
                by, bx = best // size - r, best % size - r
                logits = []
                for i in range(k):
                    dy, dx = i // size - r, i % size - r
                    g = math.exp(-((dx - bx) ** 2 + (dy - by) ** 2) / (2 * sigma**2))
                    logits.append(c[i] * g * t)
                top = max(logits)
                e = [math.exp(v - top) for v in logits]
                total = sum(e)
                out[b, 0, y, x] = sum(e[i] * (i % size - r) for i in range(k)) / total / r
                out[b, 1, y, x] = sum(e[i] * (i // size - r) for i in range(k)) / total / r
                out[b, 2, y, x] = c[best]
    return out


def test_msnet_readout_matches_the_plain_loop_definition():
    """Correlation + soft-argmax against their loop definitions on L2-normalised features
    (as MotionSqueeze feeds them): the same flow and confidence to float rounding."""
    torch.manual_seed(0)
    a, b = (F.normalize(torch.randn(2, 16, 5, 6, dtype=torch.float64), dim=1) for _ in "ab")
    corr = local_correlation(a, b, 7)
    naive = _naive_correlation(a.float(), b.float(), 7).double()
    torch.testing.assert_close(corr, naive, atol=1e-6, rtol=0)
    torch.testing.assert_close(soft_argmax_flow(corr), _naive_flow(naive), atol=1e-6, rtol=0)


def test_msnet_readout_near_ties_move_the_flow_by_whole_displacements():
    """Two displacements whose correlations differ by rounding (flat image regions give equal
    feature vectors): the argmax, hence the Gaussian's centre, follows whichever sums higher,
    so two correct summation orders can give flows a few displacements apart at such pixels —
    the documented tolerance of the readout, not a bug (the 0.12 relative difference seen on
    random weights). Exact ties take the first maximum."""
    corr = torch.zeros(1, 225, 1, 1, dtype=torch.float64)
    left, right = (7 + 7) * 15 + (-4 + 7), (7 + 7) * 15 + (3 + 7)  # dy = 7; dx = -4 or 3
    corr[0, left], corr[0, right] = 0.05, 0.05
    tie = soft_argmax_flow(corr)
    corr[0, right] += 1e-7  # a rounding-level difference in the correlation
    moved = soft_argmax_flow(corr)
    assert abs(tie[0, 2].item() - moved[0, 2].item()) < 1e-6  # confidence: continuous
    assert (moved[0, 0] - tie[0, 0]).abs().item() > 0.3  # flow_x: jumps with the argmax
    assert tie[0, 0].item() < 0 < moved[0, 0].item()  # first maximum (dx = -4) wins a tie


def _shift_and_sum_correlation(a: torch.Tensor, b: torch.Tensor, r: int) -> torch.Tensor:
    """The correlation as the original's CUDA sampler is replaced by its plain definition:
    per displacement, the zero-padded second map shifted, times the first, summed over C."""
    n, c, h, w = a.shape
    size = 2 * r + 1
    padded = F.pad(b, (r, r, r, r))
    out = torch.empty(n, size * size, h, w, dtype=a.dtype)
    for dy in range(size):
        for dx in range(size):
            out[:, dy * size + dx] = (a * padded[:, :, dy : dy + h, dx : dx + w]).sum(1)
    return out


def test_msnet_flow_differs_from_the_plain_definition_only_at_near_ties():
    """The 0.12 relative flow difference from the original on random weights, as a property:
    float32 maps with a flat region (nearly equal feature vectors in both frames, as flat image
    areas give) correlated by our GEMM and by the shift-and-sum definition differ by rounding
    (< 1e-6); wherever the flows differ by more than rounding, the plain definition's two best
    displacements are within 1e-6 of each other (a near-tie the two summation orders break
    differently), and everywhere else the flows agree to 1e-5. On a He-initialised ResNet-50
    MSNet at 288 px on a SynthIOD clip this was 2 of 9072 flow pixels (top-2 gap 2.4e-7)."""
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 64, 20, 20, generator=g), torch.randn(2, 64, 20, 20, generator=g)
    v = torch.randn(64, 1, 1, generator=g)
    a[:, :, 4:14, 3:15] = v * (1 + 1e-7 * torch.randn(2, 64, 10, 12, generator=g))
    b[:, :, 5:16, 2:13] = v * (1 + 1e-7 * torch.randn(2, 64, 11, 11, generator=g))
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    ours, plain = local_correlation(a, b, 7), _shift_and_sum_correlation(a, b, 7)
    torch.testing.assert_close(ours, plain, atol=1e-6, rtol=0)
    ours_flow, plain_flow = soft_argmax_flow(ours), soft_argmax_flow(plain)
    moved = (ours_flow - plain_flow)[:, :2].abs().amax(dim=1)
    best_two = torch.relu(plain).topk(2, dim=1).values
    gap = best_two[:, 0] - best_two[:, 1]
    assert (gap < 1e-6).sum() > 100  # the flat region gives near-ties (what is tested)
    differs = moved > 1e-5
    assert (gap[differs] < 1e-6).all()
    torch.testing.assert_close(ours_flow[:, 2], plain_flow[:, 2], atol=1e-6, rtol=0)


def test_legacy_scramble_reproduces_the_reference_indices():
    # §14: input values encode (channel, time); pseudo-frame 2 = (B,t6), (B,t7), (G,t0)
    channel = torch.arange(3).view(1, 1, 3, 1, 1)
    time = torch.arange(8).view(1, 8, 1, 1, 1)
    video = (10 * channel + time).float().expand(1, 8, 3, 2, 2)
    frames = frames_from_clip(video, legacy=True)
    assert frames[2, :, 0, 0].tolist() == [6.0, 7.0, 10.0]
    assert frames_from_clip(video)[2, :, 0, 0].tolist() == [2.0, 12.0, 22.0]
    # §14: feature values encode (pseudo-frame, channel); output frame 1, channel 33 comes
    # from pseudo-frame 1, channel 9
    feats = (1000 * torch.arange(8).view(8, 1) + torch.arange(256).view(1, 256)).float()
    mixed = legacy_frames_from_features(feats.view(8, 256, 1, 1), time=8)
    assert mixed[1, 33].item() == 1000 * 1 + 9


def test_stage_frames_are_indexed_by_i_times_stage_t_over_k():
    stage = torch.arange(2 * 4).float().view(8, 1, 1, 1)  # 2 clips, 4 stage frames each
    picked = frames_to_clip_len(stage, stage_time=4, clip_len=8).flatten().tolist()
    assert picked == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7]


@pytest.mark.parametrize("name", ["tsm", "tin"])
def test_legacy_input_scramble_equals_feeding_pseudo_frames(name):
    torch.manual_seed(0)
    clean = build(name, 4).eval()
    legacy = build(name, 4, legacy_layout=True).eval()
    legacy.load_state_dict(clean.state_dict())
    video = torch.randn(2, 4, 3, 32, 32)
    pseudo = frames_from_clip(video, legacy=True).view(video.shape)
    with torch.no_grad():
        for a, b in zip(legacy(video), clean(pseudo), strict=True):
            torch.testing.assert_close(a, b)


@pytest.mark.parametrize("name", ["tea", "msnet", "tam"])
def test_legacy_output_scramble_reinterprets_each_stage(name):
    torch.manual_seed(0)
    clean = build(name, 4).eval()
    legacy = build(name, 4, legacy_layout=True).eval()
    legacy.load_state_dict(clean.state_dict())
    video = torch.randn(2, 4, 3, 32, 32)
    pseudo = frames_from_clip(video, legacy=True).view(video.shape)
    with torch.no_grad():
        for a, b in zip(legacy(video), clean(pseudo), strict=True):
            torch.testing.assert_close(a, legacy_frames_from_features(b, 4))
