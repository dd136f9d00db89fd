"""The neck's learned upsampling: a transposed convolution with a faster backward pass.

A transposed convolution is the adjoint of a plain convolution with the same weight, so its
gradients are plain-convolution work: the input gradient is ``conv2d(grad, weight)`` with the
same stride and padding, and the weight gradient is a plain convolution's weight gradient with
the roles of input and output swapped. oneDNN's own transposed-convolution backward is much
slower than that in bf16 channels_last on CPU: the neck's four upsamplings (forward +
backward, CPU-scale shapes) take 109 instead of 130 ms, and 100 instead of 123 ms for a
k4s4 one at paper size; the results are bit-identical and fp32 NCHW is unchanged. Forward,
parameters and state-dict keys are ``nn.ConvTranspose2d``'s.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd import Function


class _AdjointConvTranspose2d(Function):
    @staticmethod
    def forward(ctx: Any, x, weight, bias, stride, padding) -> torch.Tensor:  # noqa: ANN001
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding, ctx.has_bias = stride, padding, bias is not None
        return F.conv_transpose2d(x, weight, bias, stride=stride, padding=padding)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor):  # noqa: ANN205
        x, weight = ctx.saved_tensors
        need_x, need_weight, need_bias = ctx.needs_input_grad[:3]
        grad_x = grad_weight = grad_bias = None
        if need_x:
            grad_x = F.conv2d(grad, weight, stride=ctx.stride, padding=ctx.padding)
        if need_weight:  # the plain conv grad → x with weight (C_in, C_out, k, k): its dW
            _, grad_weight, _ = torch.ops.aten.convolution_backward(
                x, grad, weight, None, ctx.stride, ctx.padding, [1, 1], False, [0, 0], 1,
                [False, True, False],
            )
        if need_bias and ctx.has_bias:
            grad_bias = grad.sum(dim=(0, 2, 3))
        return grad_x, grad_weight, grad_bias, None, None


class AdjointConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` (groups 1, dilation 1, no output padding) whose backward runs as
    plain convolutions. Autocast is applied here, as it would be to the built-in op: input and
    parameters cast to the autocast dtype (the parameters' gradients come back in fp32)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int,
                 padding: int = 0, bias: bool = True) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_grad_enabled() or torch.jit.is_tracing():
            return super().forward(x)  # inference and export: the built-in op
        weight, bias, device = self.weight, self.bias, x.device.type
        if torch.is_autocast_enabled(device):
            dtype = torch.get_autocast_dtype(device)
            x, weight = x.to(dtype), weight.to(dtype)
            bias = None if bias is None else bias.to(dtype)
        with torch.autocast(device, enabled=False):
            return _AdjointConvTranspose2d.apply(
                x, weight, bias, list(self.stride), list(self.padding)
            )
