"""I3D/S3D under bf16 autocast: every Conv3d gets the weight gradient its math defines.

On AVX-512 BF16 CPUs, oneDNN's bf16 backward-weights convolution (``jit_bf16:avx512_core_bf16``)
returns a wrong weight gradient — wrong taps always, at times ~1e33 or inf — when the kernel is
deeper than the clip (time kernel 3 on a 2-frame map, padded on both sides) and more than one
frame comes out: I3D's ``layer3.1.conv1`` and S3D's ``layer3.1.bn1.temporal.1`` at K = 8. Those
garbage gradients poisoned Adam and I3D's training stopped on a NaN heatmap loss (issue 31).
The inflated convs pad such a clip in time themselves, so oneDNN never sees that shape. The
weight gradient of a convolution does not depend on the weights (it correlates the input with
the output gradient), so fp64 math on the same bf16 input and output gradient is its oracle.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from iodvideo.models.memory_format import to_channels_last
from iodvideo.models.registry import BACKBONES
from iodvideo.models.temporal.inflate3d import SpatialBNThenTemporal, conv_to_3d

# bf16 inputs and output gradient, fp32 accumulation, one bf16 rounding of the result: ~4e-3
TOLERANCE = 2e-2


def reference_weight_grad(conv: nn.Conv3d, x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """dL/dW of ``conv`` (its own geometry, implicit zero padding) in fp64."""
    weight = conv.weight.detach().double()
    return torch.ops.aten.convolution_backward(
        grad.double(), x.double(), weight, None, conv.stride, conv.padding, conv.dilation,
        False, (0, 0, 0), conv.groups, (False, True, False))[1]


def relative_error(value: torch.Tensor, reference: torch.Tensor) -> float:
    return float((value.double() - reference).abs().max() / reference.abs().max())


def short_clip_convs() -> dict[str, nn.Conv3d]:
    return {
        "i3d 3x3x3": conv_to_3d(nn.Conv2d(64, 64, 3, padding=1, bias=False), 3, 1),
        "s3d 3x1x1": SpatialBNThenTemporal(64).add_temporal(1).temporal[1],
    }


@pytest.mark.parametrize("name", list(short_clip_convs()))
def test_a_two_frame_map_gets_the_bf16_weight_gradient_of_its_math(name: str) -> None:
    """A time kernel of 3 on T = 2 (layer 3 at K = 8): finite and as close to fp64 as bf16
    allows, every time (oneDNN's answer varied from call to call: a loop, not one try)."""
    torch.manual_seed(0)
    conv = short_clip_convs()[name]
    to_channels_last(conv)
    layout = torch.channels_last_3d
    x = torch.randn(8, 64, 2, 4, 4).contiguous(memory_format=layout).bfloat16()
    grad = torch.randn(8, 64, 2, 4, 4).contiguous(memory_format=layout).bfloat16()
    reference = reference_weight_grad(conv, x, grad)
    for _ in range(4):
        conv.weight.grad = None
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = conv(x)
        assert out.shape == grad.shape and out.dtype == torch.bfloat16
        out.backward(grad)
        assert torch.isfinite(conv.weight.grad).all()
        assert relative_error(conv.weight.grad, reference) < TOLERANCE


def test_padding_the_clip_in_time_leaves_the_convolution_unchanged() -> None:
    """fp32 (a correct kernel either way): the same output and input gradient as the implicit
    zero padding of a plain Conv3d with the same weights."""
    torch.manual_seed(0)
    conv = conv_to_3d(nn.Conv2d(16, 24, 3, stride=2, padding=1), 3, 1)
    plain = nn.Conv3d(16, 24, 3, stride=(1, 2, 2), padding=1)
    plain.load_state_dict(conv.state_dict())
    for frames in (1, 2, 3, 5):
        x = torch.randn(2, 16, frames, 8, 8, requires_grad=True)
        out = conv(x)
        (grad_x,) = torch.autograd.grad(out.square().sum(), x)
        x_plain = x.detach().requires_grad_()
        out_plain = plain(x_plain)
        (grad_plain,) = torch.autograd.grad(out_plain.square().sum(), x_plain)
        torch.testing.assert_close(out, out_plain, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(grad_x, grad_plain, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize("name", ["i3d", "s3d"])
def test_every_conv3d_of_the_backbone_gets_its_bf16_weight_gradient(name: str) -> None:
    """K = 8 and two blocks in layer 3 (stage T = 8, 4, 2, 1), channels_last, bf16 autocast as
    in training: each Conv3d's weight gradient against fp64 on its own input and output
    gradient, as the hooks saw them."""
    torch.manual_seed(0)
    model = BACKBONES[name](
        "resnet18", clip_len=8,
        model_kwargs={"layers": (1, 1, 2, 1), "channels": (32, 32, 64, 64)})
    to_channels_last(model)
    seen: dict[str, list[torch.Tensor]] = {}

    def keep(module_name: str):
        def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
            seen[module_name] = [inputs[0].detach()]
            out.register_hook(lambda grad: seen[module_name].append(grad.detach()))
        return hook

    convs = {n: m for n, m in model.named_modules() if isinstance(m, nn.Conv3d)}
    for module_name, conv in convs.items():
        conv.register_forward_hook(keep(module_name))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        maps = model(torch.randn(2, 8, 3, 32, 32))
    sum(m.float().square().mean() for m in maps).backward()
    short = [n for n in convs if seen[n][0].shape[2] < convs[n].kernel_size[0]]
    assert short, "the test must reach a map shorter than a time kernel"
    errors = {n: relative_error(conv.weight.grad, reference_weight_grad(conv, *seen[n]))
              for n, conv in convs.items()}
    assert all(torch.isfinite(conv.weight.grad).all() for conv in convs.values())
    assert {n: e for n, e in errors.items() if not e < TOLERANCE} == {}
