"""AdjointConvTranspose2d: nn.ConvTranspose2d's forward with a backward made of plain convs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from iodvideo.models.upsampling import AdjointConvTranspose2d


def pair(in_ch: int, out_ch: int, stride: int, padding: int, dtype=torch.float32):
    torch.manual_seed(0)
    ours = AdjointConvTranspose2d(in_ch, out_ch, 4, stride=stride, padding=padding).to(dtype)
    builtin = nn.ConvTranspose2d(in_ch, out_ch, 4, stride=stride, padding=padding).to(dtype)
    builtin.load_state_dict(ours.state_dict())  # same keys, same tensors
    return ours, builtin


@pytest.mark.parametrize(("stride", "padding"), [(2, 1), (4, 0)])
def test_gradients_are_exact(stride, padding):
    ours, _ = pair(3, 2, stride, padding, torch.float64)
    x = torch.randn(2, 3, 3, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: ours(x), (x,))
    # the parameters' gradients against the built-in op's
    ours, builtin = pair(3, 2, stride, padding, torch.float64)
    g = torch.randn_like(builtin(x))
    ours(x).backward(g)
    grad_x = x.grad.clone()
    x.grad = None
    builtin(x).backward(g)
    torch.testing.assert_close(grad_x, x.grad)
    for name in ("weight", "bias"):
        torch.testing.assert_close(getattr(ours, name).grad, getattr(builtin, name).grad)


def test_bf16_autocast_matches_the_builtin_op_in_channels_last():
    ours, builtin = pair(8, 4, 4, 0)
    ours, builtin = (m.to(memory_format=torch.channels_last) for m in (ours, builtin))
    x0 = torch.randn(2, 8, 4, 4).contiguous(memory_format=torch.channels_last)
    results = []
    for module in (ours, builtin):
        x = x0.clone().requires_grad_()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = module(x)
        y.float().square().sum().backward()
        results.append((y, x.grad, module.weight.grad, module.bias.grad))
    (y, *grads), (y_ref, *grads_ref) = results
    assert y.dtype == torch.bfloat16 and y.is_contiguous(memory_format=torch.channels_last)
    assert ours.weight.grad.dtype == torch.float32  # fp32 master weights keep fp32 gradients
    torch.testing.assert_close(y, y_ref)
    # the two backward passes round bf16 products of different sums (8 significant bits,
    # unit roundoff 2^-9 ≈ 2e-3) over in_channels·kernel terms: a few bf16 ulps apart
    for ours_grad, ref_grad in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(ours_grad, ref_grad, rtol=2e-2, atol=2e-2)


def test_inference_runs_the_builtin_op():
    ours, builtin = pair(3, 2, 2, 1)
    x = torch.randn(1, 3, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), builtin(x))
