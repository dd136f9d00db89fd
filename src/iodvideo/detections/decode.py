"""Decoding of clip head outputs into scored tubelets, MOV or STA mode (protocol §8)."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from iodvideo.tensor_ops import gather_at

Dets = TypeVar("Dets", torch.Tensor, np.ndarray)

# how a tubelet's per-frame box sizes are read: "frame" = each frame's own prediction (the
# reference), "clip" = their mean over the tubelet's K frames on every frame
SIZE_MODES = ("frame", "clip")


def _peak_nms(hm: torch.Tensor) -> torch.Tensor:
    """Zero every pixel that is not the maximum of its 3×3 neighbourhood (CenterNet NMS)."""
    hmax = F.max_pool2d(hm, kernel_size=3, stride=1, padding=1)
    return hm * (hmax == hm).to(hm.dtype)


def _top_peaks(
    hm: torch.Tensor, wh: torch.Tensor, offsets: torch.Tensor, name: str, top_n: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Check the head shapes; return the ``top_n`` NMS peaks of ``hm (B, C, h, w)`` over all
    classes at once: scores, flat pixel index, x and y (in ``offsets``' dtype) and the class of
    each peak, each ``(B, N)``; ``top_n`` is capped at ``C·h·w``. The top N of all (class,
    pixel) pairs is what the reference's per-class top N followed by a global top N gives;
    with one class it is the single-class decoder."""
    if hm.dim() != 4 or hm.shape[1] < 1:
        raise ValueError(f"hm must be (B, C, h, w), one channel per class, got {tuple(hm.shape)}")
    batch, classes, height, width = hm.shape
    if offsets.shape != wh.shape or offsets.shape[0] != batch or offsets.shape[2:] != hm.shape[2:]:
        raise ValueError(
            f"wh {tuple(wh.shape)} and {name} {tuple(offsets.shape)} must both be (B, 2K, h, w) "
            f"matching hm {tuple(hm.shape)}"
        )
    peaks = _peak_nms(hm).reshape(batch, -1)
    scores, flat = peaks.topk(min(top_n, classes * height * width), dim=1)
    labels = torch.div(flat, height * width, rounding_mode="floor")
    index = flat % (height * width)
    ys = torch.div(index, width, rounding_mode="floor").to(offsets.dtype)
    xs = (index % width).to(offsets.dtype)
    return scores, index, xs, ys, labels


def clip_mean_sizes(sizes: torch.Tensor) -> torch.Tensor:
    """Sizes ``(B, N, 2K)`` (w, h per frame) → every frame given the tubelet's mean w and h.

    Why: a plume's extent changes little within one clip (SynthIOD's GT boxes of consecutive
    frames overlap at IoU 0.96 on average), while the per-frame size head reads one frame's
    features and scatters around the truth (log-size spread 0.2 on the default model); the
    mean of K such readings is a steadier estimate (docs/results.md, "Boxes that fit").
    """
    mean = sizes.unflatten(-1, (-1, 2)).mean(dim=-2, keepdim=True)  # (B, N, 1, 2)
    return mean.expand(*sizes.shape[:-1], sizes.shape[-1] // 2, 2).flatten(-2)


def _tubelets(
    cx: torch.Tensor, cy: torch.Tensor, sizes: torch.Tensor, scores: torch.Tensor,
    size_mode: str = "frame",
) -> torch.Tensor:
    """Centres ``(B, N, K)``, sizes ``(B, N, 2K)`` (w, h per frame) and peak scores ``(B, N)``
    → tubelets ``(B, N, 4K+1)``: x1, y1, x2, y2 of every frame, then the score; ``size_mode``
    "clip" gives every frame the tubelet's mean size (:func:`clip_mean_sizes`)."""
    if size_mode not in SIZE_MODES:
        raise ValueError(f"decode sizes must be one of {SIZE_MODES}, got {size_mode!r}")
    if size_mode == "clip":
        sizes = clip_mean_sizes(sizes)
    batch, n, clip_len = cx.shape
    half_w, half_h = sizes[..., 0::2] / 2, sizes[..., 1::2] / 2
    boxes = torch.stack((cx - half_w, cy - half_h, cx + half_w, cy + half_h), dim=-1)
    return torch.cat((boxes.reshape(batch, n, 4 * clip_len), scores.unsqueeze(-1)), dim=-1)


def decode_mov(
    hm: torch.Tensor, wh: torch.Tensor, mov: torch.Tensor, top_n: int = 100,
    return_labels: bool = False, size_mode: str = "frame",
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Turn heatmap peaks into K-frame tubelets, as the reference MOV decoder does.

    ``hm`` holds probabilities ``(B, C, h, w)``, one channel per class; ``wh`` and ``mov`` are
    ``(B, 2K, h, w)`` with channels ``(2k, 2k+1)`` = (x, y) or (w, h) of frame k. The top
    ``top_n`` NMS peaks per clip over all classes (no score threshold, so low-score boxes reach
    the evaluator like in the paper runs) each give one tubelet: frame k is centred at peak +
    mov_k, and its size is read where that centre falls, truncated toward zero, except on the
    key frame ``K // 2`` which reads it at the peak. Like the reference, the flat index is
    clamped rather than x and y, so a centre left of the map reads the end of the previous row.
    ``top_n`` is capped at ``C·h·w`` (the reference would fail). ``size_mode`` "clip" then
    replaces each frame's size by the tubelet's mean (:func:`clip_mean_sizes`; not the paper's).

    Returns ``(B, N, 4K+1)`` in grid units: columns ``4k..4k+3`` = x1, y1, x2, y2 of frame k,
    the last column the peak score shared by all frames; with ``return_labels`` also the class
    index ``(B, N)`` of every tubelet (sizes and movements are class-agnostic, as in MOC).
    """
    scores, index, xs, ys, labels = _top_peaks(hm, wh, mov, "mov", top_n)
    clip_len, (height, width) = mov.shape[1] // 2, hm.shape[2:]

    offsets = gather_at(mov, index)  # (B, N, 2K)
    cx = xs.unsqueeze(-1) + offsets[..., 0::2]  # (B, N, K)
    cy = ys.unsqueeze(-1) + offsets[..., 1::2]

    flat = cy.long() * width + cx.long()  # .long() truncates toward zero, as the reference
    flat[..., clip_len // 2] = index
    flat = flat.clamp(0, height * width - 1)
    sizes = gather_at(wh, flat.repeat_interleave(2, dim=-1))  # (B, N, 2K)
    tubelets = _tubelets(cx, cy, sizes, scores, size_mode)
    return (tubelets, labels) if return_labels else tubelets


def decode_sta(
    hm: torch.Tensor, wh: torch.Tensor, sta: torch.Tensor, top_n: int = 100,
    offset_scale: float = 18.0, return_labels: bool = False, size_mode: str = "frame",
) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """STA-mode decoding (protocol §8 step 3, §11 items 10 and 13).

    ``sta (B, 2K, h, w)`` holds the STA head's tanh outputs, channels (2k, 2k+1) = (o_x, o_y)
    of frame k; ``wh (B, 2K, h, w)`` the sizes. Unlike MOV mode, offsets *and* sizes of every
    frame are read at the key peak (xs, ys) itself: box_k = (xs + s·o_x,k ∓ w_k/2,
    ys + s·o_y,k ∓ h_k/2) with ``offset_scale`` s (18 in the paper runs: input 288 / down ratio
    4 / 4; the visualisation tool's 1 is a bug). Same output layout and ``size_mode`` as
    :func:`decode_mov`.
    """
    scores, index, xs, ys, labels = _top_peaks(hm, wh, sta, "sta", top_n)
    offsets = gather_at(sta, index) * offset_scale  # (B, N, 2K)
    sizes = gather_at(wh, index)
    cx = xs.unsqueeze(-1) + offsets[..., 0::2]
    cy = ys.unsqueeze(-1) + offsets[..., 1::2]
    tubelets = _tubelets(cx, cy, sizes, scores, size_mode)
    return (tubelets, labels) if return_labels else tubelets


def decode_labelled(
    out: dict[str, torch.Tensor], mode: str = "mov", top_n: int = 100, offset_scale: float = 18.0,
    size_mode: str = "frame",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode a detector's output dict (``hm`` logits, one channel per class) in ``mov`` or
    ``sta`` mode: tubelets ``(B, N, 4K+1)`` and the class index ``(B, N)`` of each."""
    hm = torch.sigmoid(out["hm"])
    if mode == "mov":
        return decode_mov(hm, out["wh"], out["mov"], top_n, return_labels=True,
                          size_mode=size_mode)
    if mode == "sta":
        if "sta" not in out:
            raise ValueError("STA decoding needs an 'sta' head output; this model has none")
        return decode_sta(hm, out["wh"], out["sta"], top_n, offset_scale, return_labels=True,
                          size_mode=size_mode)
    raise ValueError(f"decode mode must be 'mov' or 'sta', got {mode!r}")


def decode_clips(
    out: dict[str, torch.Tensor], mode: str = "mov", top_n: int = 100, offset_scale: float = 18.0
) -> torch.Tensor:
    """The tubelets of :func:`decode_labelled` (a single-class model's whole output)."""
    return decode_labelled(out, mode, top_n, offset_scale)[0]


def boxes_to_image(dets: Dets, grid_hw: tuple[int, int], image_hw: tuple[int, int]) -> Dets:
    """Scale tubelet boxes from the output grid to original pixels (protocol §8 step 4).

    x is multiplied by W/w and clipped to [0, W−1], y by H/h and clipped to [0, H−1]; the last
    (score) column is left alone. Works on any leading shape, returns a new array or tensor.
    """
    (grid_h, grid_w), (image_h, image_w) = grid_hw, image_hw
    if isinstance(dets, torch.Tensor):
        out = dets.clone() if dets.is_floating_point() else dets.double()
        out[..., 0:-1:2] = (out[..., 0:-1:2] * (image_w / grid_w)).clamp(0, image_w - 1)
        out[..., 1:-1:2] = (out[..., 1:-1:2] * (image_h / grid_h)).clamp(0, image_h - 1)
        return out
    out = np.array(dets, dtype=np.result_type(dets.dtype, np.float32))
    out[..., 0:-1:2] = np.clip(out[..., 0:-1:2] * (image_w / grid_w), 0, image_w - 1)
    out[..., 1:-1:2] = np.clip(out[..., 1:-1:2] * (image_h / grid_h), 0, image_h - 1)
    return out
