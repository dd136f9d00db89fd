"""The hand-written backward passes of the temporal ops (models/temporal/ops.py, TIN's
interlace): exact gradients, and the memory layout they exist to keep."""

from __future__ import annotations

import pytest
import torch

from iodvideo.models.temporal import interlace as interlace_module
from iodvideo.models.temporal.difference import MotionSE
from iodvideo.models.temporal.excitation import TemporalAggregation
from iodvideo.models.temporal.interlace import TemporalInterlace, interlace
from iodvideo.models.temporal.layout import temporal_max_pool
from iodvideo.models.temporal.ops import (
    channel_shift,
    channel_shift_reference,
    temporal_conv3,
    temporal_conv3_reference,
    time_difference,
    time_difference_reference,
)
from iodvideo.models.temporal.shift import LearnableTemporalShift, TemporalShift

CL = torch.channels_last


def test_channel_shift_gradient_is_exact():
    clip = torch.randn(2, 4, 8, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda c: channel_shift(c, 2), (clip,))


def test_temporal_conv3_gradients_are_exact_for_clip_and_taps():
    clip = torch.randn(2, 4, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    taps = [torch.randn(1, 1, 3, 1, 1, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    assert torch.autograd.gradcheck(temporal_conv3, (clip, *taps))


def test_temporal_conv3_gradients_reach_strided_taps():
    # the taps as LearnableTemporalShift makes them: rows of a transposed (C, 3) weight
    clip = torch.randn(2, 4, 3, 2, 2, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, 3, dtype=torch.float64, requires_grad=True)

    def conv(clip: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        taps = weight.t().reshape(3, 1, 1, -1, 1, 1)
        return temporal_conv3(clip, taps[0], taps[1], taps[2])

    assert not weight.t().reshape(3, 1, 1, -1, 1, 1)[0].is_contiguous()
    assert torch.autograd.gradcheck(conv, (clip, weight))
    torch.testing.assert_close(conv(clip, weight), temporal_conv3_reference(
        clip, *weight.t().reshape(3, 1, 1, -1, 1, 1)))


def test_temporal_conv3_matches_its_definition():
    clip = torch.randn(1, 3, 2, 1, 1)
    prev, here, nxt = (torch.tensor(v).view(1, 1, 1, 1, 1) for v in (2.0, 3.0, 5.0))
    out = temporal_conv3(clip, prev, here, nxt)
    want = 3 * clip.clone()
    want[:, 1:] += 2 * clip[:, :-1]
    want[:, :-1] += 5 * clip[:, 1:]
    torch.testing.assert_close(out, want)


@pytest.mark.parametrize("step", [1, -1])
def test_time_difference_gradients_are_exact(step):
    moved, here = (
        torch.randn(2, 4, 3, 2, 2, dtype=torch.float64, requires_grad=True) for _ in range(2)
    )
    assert torch.autograd.gradcheck(lambda m, h: time_difference(m, h, step), (moved, here))


def test_time_difference_matches_its_definition():
    moved = torch.tensor([1.0, 2.0, 4.0]).view(1, 3, 1, 1, 1)
    here = torch.tensor([10.0, 20.0, 40.0]).view(1, 3, 1, 1, 1)
    # forward: moved[t+1] − here[t], zero on the last frame; backward: moved[t−1] − here[t]
    assert time_difference(moved, here, 1).flatten().tolist() == [-8.0, -16.0, 0.0]
    assert time_difference(moved, here, -1).flatten().tolist() == [0.0, -19.0, -38.0]
    with pytest.raises(ValueError, match="step"):
        time_difference(moved, here, 2)


def test_interlace_gradients_are_exact_away_from_integer_offsets():
    clip = torch.randn(2, 5, 8, 2, 2, dtype=torch.float64, requires_grad=True)
    shifts = torch.tensor([[0.3, -1.6], [1.2, 2.7]], dtype=torch.float64, requires_grad=True)
    weights = torch.rand(2, 5, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda c, s, w: interlace(c, s, w, fold=4), (clip, shifts, weights)
    )


def test_interlace_leaves_channels_past_fold_alone():
    clip = torch.randn(1, 3, 8, 1, 1)
    out = interlace(clip, torch.tensor([[1.0, -1.0]]), fold=4)
    torch.testing.assert_close(out[:, :, 4:], clip[:, :, 4:])
    torch.testing.assert_close(out[0, 1:, :2], clip[0, :-1, :2])  # group 0 pulled from t − 1


@pytest.mark.parametrize("clip_layout", [torch.contiguous_format, CL])
def test_interlace_gradients_do_not_depend_on_the_incoming_gradients_layout(clip_layout):
    """The op works on rows of one group each; a channels_last clip and an NCHW gradient (or
    the reverse) must still pair every gradient value with the clip value it belongs to."""
    torch.manual_seed(0)
    frames = torch.randn(2 * 4, 8, 3, 5)
    shifts, weights = torch.tensor([[0.4, -1.3], [1.7, -0.2]]), torch.rand(2, 4, 2)
    upstream = torch.randn(2 * 4, 8, 3, 5)
    results = []
    for grad_layout in (clip_layout, CL if clip_layout is torch.contiguous_format else
                        torch.contiguous_format):
        x = frames.contiguous(memory_format=clip_layout).requires_grad_()
        s, w = shifts.clone().requires_grad_(), weights.clone().requires_grad_()
        out = interlace(x.view(2, 4, 8, 3, 5), s, w, fold=4)
        grad = upstream.contiguous(memory_format=grad_layout).view(2, 4, 8, 3, 5)
        results.append(torch.autograd.grad(out, (x, s, w), grad))
    for same, mixed in zip(*results, strict=True):
        torch.testing.assert_close(mixed, same)


@pytest.mark.parametrize(
    "make",
    [
        lambda: TemporalShift(4),
        lambda: LearnableTemporalShift(32, 4, fold=4),
        lambda: TemporalAggregation(32, 4),
        lambda: TemporalInterlace(32, 4, shift_div=4),
        lambda: MotionSE(32, 4),
    ],
    ids=["tsm", "learnable_shift", "tam", "tin", "tdn_mse"],
)
def test_temporal_modules_keep_channels_last_and_match_contiguous(make):
    torch.manual_seed(0)
    module = make()
    frames = torch.randn(2 * 4, 32, 5, 6)
    upstream = torch.randn(2 * 4, 32, 5, 6)
    results = []
    for layout in (torch.contiguous_format, CL):
        x = frames.contiguous(memory_format=layout).requires_grad_()
        out = module(x)
        (grad,) = torch.autograd.grad(out, x, upstream.contiguous(memory_format=layout))
        results.append((out, grad))
    (out_nchw, grad_nchw), (out_cl, grad_cl) = results
    assert out_cl.is_contiguous(memory_format=CL) and grad_cl.is_contiguous(memory_format=CL)
    assert out_nchw.is_contiguous() and grad_nchw.is_contiguous()
    torch.testing.assert_close(out_cl, out_nchw)
    torch.testing.assert_close(grad_cl, grad_nchw)


def test_motion_se_feeds_every_conv_and_batch_norm_channels_last_both_ways():
    """TDN's mSE: a time-axis cat used to hand its convs and BNs NCHW maps and gradients,
    which put every mSE BatchNorm backward on a 3× slower mixed-layout path."""
    module = MotionSE(32, 4)
    seen = []
    for layer in module.modules():
        if isinstance(layer, (torch.nn.Conv2d, torch.nn.BatchNorm2d)):
            layer.register_forward_hook(lambda _m, inputs, _out: seen.append(inputs[0]))
            layer.register_full_backward_hook(lambda _m, _gin, gout: seen.append(gout[0]))
    x = torch.randn(2 * 4, 32, 5, 6).contiguous(memory_format=CL).requires_grad_()
    module(x).backward(torch.randn(2 * 4, 32, 5, 6).contiguous(memory_format=CL))
    # squeeze conv+BN and transform once; coarse, fine and expand conv+BN per direction
    assert len(seen) == 2 * (3 + 2 * 6)
    assert all(t.is_contiguous(memory_format=CL) for t in seen)


def test_temporal_max_pool_keeps_dtype_and_layout_under_autocast():
    frames = torch.randn(2 * 4, 8, 3, 3).to(torch.bfloat16).contiguous(memory_format=CL)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        pooled, time = temporal_max_pool(frames, 4)
    assert time == 2 and pooled.dtype == torch.bfloat16
    assert pooled.is_contiguous(memory_format=CL)
    clip = frames.view(2, 4, 8, 3, 3)
    torch.testing.assert_close(pooled.view(2, 2, 8, 3, 3)[:, 1], clip[:, 1:4].amax(dim=1))


def _values_and_grads(fn, inputs, upstream):
    inputs = [t.detach().clone().requires_grad_() for t in inputs]
    out = fn(*inputs)
    return [out, *torch.autograd.grad(out, inputs, upstream)]


@pytest.mark.parametrize("op", ["shift", "conv3", "interlace", "difference_fwd", "difference_bwd"])
def test_fast_ops_equal_their_traceable_references(op, monkeypatch):
    torch.manual_seed(0)
    clip = torch.randn(2, 5, 8, 3, 4)
    if op == "shift":
        inputs = [clip]

        def fast(c):
            return channel_shift(c, 3)

        def ref(c):
            return channel_shift_reference(c, 3)

    elif op.startswith("difference"):
        inputs = [clip, torch.randn(2, 5, 8, 3, 4)]
        step = 1 if op == "difference_fwd" else -1

        def fast(m, h):
            return time_difference(m, h, step)

        def ref(m, h):
            return time_difference_reference(m, h, step)

    elif op == "conv3":
        inputs = [clip] + [torch.randn(1, 1, 8, 1, 1) for _ in range(3)]
        fast, ref = temporal_conv3, temporal_conv3_reference
    else:
        inputs = [clip, torch.tensor([[0.4, -1.3], [2.2, -0.7]]), torch.rand(2, 5, 2)]

        def fast(c, s, w):
            return interlace(c, s, w, fold=4)

        def ref(c, s, w):
            with monkeypatch.context() as patch:  # what a trace runs
                patch.setattr(interlace_module, "tracing", lambda: True)
                return interlace(c, s, w, fold=4)

    upstream = torch.randn(2, 5, 8, 3, 4)
    for a, b in zip(
        _values_and_grads(fast, inputs, upstream), _values_and_grads(ref, inputs, upstream),
        strict=True,
    ):
        torch.testing.assert_close(a, b)
