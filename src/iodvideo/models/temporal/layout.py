"""Clip ↔ frame-batch layouts, the reference's reshape scramble, and time-axis helpers.

All temporal adapters work on a frame batch ``(N*T, C, H, W)`` ordered clip-major (frame t of
clip n at row ``n*T + t``), so 2D timm blocks run unchanged and a temporal op only needs T.

The reference gets from its stacked ``(B, C, T, H, W)`` input to a frame batch, and back from
per-frame features to frames, with plain reshapes that skip the channel/time permute (protocol
§5.4). ``legacy_frames_from_clip`` / ``legacy_frames_from_features`` reproduce those two memory
reinterpretations exactly, so ``legacy_layout: true`` matches the published numbers' model.
"""

from __future__ import annotations

import torch


def frames_from_clip(video: torch.Tensor, legacy: bool = False) -> torch.Tensor:
    """``(B, T, C, H, W)`` → ``(B*T, C, H, W)``.

    Correct layout: row ``b*T + t`` is frame t. Legacy: the reference stacks frames on dim 2
    (``(B, C, T, H, W)``) and reshapes without permuting, so "pseudo-frame" j takes channels
    ``f = C*j .. C*j + C-1`` of the channel-major (C, T) stack, i.e. channel ``f // T`` of frame
    ``f % T`` (for grey frames: three consecutive time steps stacked as colours).
    """
    batch, time, *frame = video.shape
    if legacy:
        video = video.transpose(1, 2)
    return video.reshape(batch * time, *frame)


def legacy_frames_from_features(features: torch.Tensor, time: int) -> torch.Tensor:
    """Reference's output-side reinterpretation of a ``(B*T, C, h, w)`` map (protocol §5.4).

    It reshapes to ``(B, C, T, h, w)`` and splits on T, so output frame i's channel c' is
    channel ``(c'*T + i) mod C`` of pseudo-frame ``(c'*T + i) div C`` — every "frame" mixes all
    time steps. Returned again as a clip-major frame batch.
    """
    rows, channels, height, width = features.shape
    batch = rows // time
    mixed = features.reshape(batch, channels, time, height, width).transpose(1, 2)
    return mixed.reshape(rows, channels, height, width)


def frames_to_clip_len(features: torch.Tensor, stage_time: int, clip_len: int) -> torch.Tensor:
    """Bring a stage with ``stage_time`` frames (temporal stride/pooling) back to K frames.

    Output frame i uses stage frame ``i * stage_time // clip_len``: the reference's hard-wired
    ``[i], [i//2], [i//4], [i//8]`` for K = 8 (protocol §5.5.4, §5.5.7), generalised to any K
    (quirk §11.6). ``features`` is clip-major ``(B*stage_time, ...)``; returns ``(B*K, ...)``.
    """
    if stage_time == clip_len:
        return features
    batch = features.shape[0] // stage_time
    index = torch.arange(clip_len, device=features.device) * stage_time // clip_len
    per_clip = features.reshape(batch, stage_time, *features.shape[1:])
    return per_clip[:, index].reshape(batch * clip_len, *features.shape[1:])


def shift_time(clip: torch.Tensor, offset: int) -> torch.Tensor:
    """``out[:, t] = clip[:, t + offset]`` with zeros outside the clip (dim 1 is time)."""
    time = clip.shape[1]
    if offset == 0:
        return clip
    if abs(offset) >= time:
        return torch.zeros_like(clip)
    pad = torch.zeros_like(clip[:, : abs(offset)])
    if offset > 0:
        return torch.cat([clip[:, offset:], pad], dim=1)
    return torch.cat([pad, clip[:, :offset]], dim=1)


def split_time(frames: torch.Tensor, time: int) -> torch.Tensor:
    """``(N*T, C, H, W)`` → ``(N, T, C, H, W)`` view (validates that T divides the batch)."""
    rows = frames.shape[0]
    if rows % time:
        raise ValueError(f"frame batch of {rows} is not a whole number of {time}-frame clips")
    return frames.view(rows // time, time, *frames.shape[1:])


def temporal_max_pool(frames: torch.Tensor, time: int) -> tuple[torch.Tensor, int]:
    """Max-pool over time (kernel 3, stride 2, pad 1), as TAM does between stages."""
    clip = split_time(frames, time).transpose(1, 2)  # (N, C, T, H, W); channels_last_3d if
    # frames are channels_last. Autocast off: it would run the (exact) max in fp32 and hand
    # the next stage an fp32 map.
    with torch.autocast(frames.device.type, enabled=False):
        pooled = torch.nn.functional.max_pool3d(clip, (3, 1, 1), (2, 1, 1), (1, 0, 0))
    new_time = pooled.shape[2]
    return pooled.transpose(1, 2).reshape(-1, *frames.shape[1:]), new_time
