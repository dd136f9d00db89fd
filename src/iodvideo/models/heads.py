"""Detection heads (protocol §5.3).

``hm`` and ``mov`` see all K frame maps concatenated (that is where a frame-level backbone
first mixes time); ``wh`` and ``sta`` run per frame with shared weights. ``sta`` ends in tanh:
per-frame centre offsets in (−1, 1), multiplied by the offset scale (18) in the loss and the
decoder. Both ``mov`` and ``sta`` always exist (checkpoint parity); the loss trains one of them.

``hm`` has one channel per class (the annotation pickle's ``labels``; IOD-Video: one, gas);
the box heads are shared by all classes, as in CenterNet: an object's size and movement do not
depend on which channel its peak is on.
"""

from __future__ import annotations

import torch
from torch import nn

from iodvideo.models.memory_format import is_channels_last

HEATMAP_PRIOR_BIAS = -2.19  # sigmoid(-2.19) ≈ 0.1, CenterNet's focal-loss prior


def concat_frames(frames: torch.Tensor, clip_len: int) -> torch.Tensor:
    """``(B*K, C, h, w)`` → ``(B, K*C, h, w)``, frame-major (channel ``k*C + c``), in the
    frames' memory format: a channels_last input gives a channels_last concat in one copy,
    where a plain reshape would copy to NCHW and the next conv would convert it back."""
    bk, channels, h, w = frames.shape
    batch = bk // clip_len
    if not is_channels_last(frames):
        return frames.reshape(batch, clip_len * channels, h, w)
    per_pixel = frames.unflatten(0, (batch, clip_len)).permute(0, 3, 4, 1, 2)  # (B,h,w,K,C)
    return per_pixel.reshape(batch, h, w, clip_len * channels).permute(0, 3, 1, 2)


def _head(in_ch: int, hidden: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, hidden, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(hidden, out_ch, 1)
    )


class ClipHeads(nn.Module):
    """``(B*K, F, h, w)`` frame maps → ``hm (B, C, h, w)`` logits (C = ``num_classes``),
    ``wh, mov, sta (B, 2K, h, w)``.

    ``num_classes`` None means one class: the model config's ``heads.num_classes: null``
    stands for "as many as the data's labels", which ``iodvideo.train`` fills in before it
    builds the detector; anything that builds a detector from a config without data (scripts,
    tests, checkpoints of versions before classes) gets the single-class model it always did.

    ``wh_from`` "frame" is the reference's size head (one frame's map in, that frame's size
    out, weights shared over frames); "clip" reads all K frame maps at once, like ``hm`` and
    ``mov``, and gives the 2K sizes together: a faint plume's extent shows in how it moves
    over the clip more than in any one frame.
    """

    def __init__(
        self,
        in_channels: int,
        clip_len: int,
        head_conv: int = 256,
        wh_head_conv: int = 64,
        num_classes: int | None = 1,
        wh_from: str = "frame",
    ) -> None:
        super().__init__()
        num_classes = 1 if num_classes is None else int(num_classes)
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if wh_from not in ("frame", "clip"):
            raise ValueError(f"model.heads.wh_from must be 'frame' or 'clip', got {wh_from!r}")
        self.clip_len = clip_len
        self.num_classes = num_classes
        self.wh_from = wh_from
        self.hm = _head(in_channels * clip_len, head_conv, num_classes)
        self.mov = _head(in_channels * clip_len, head_conv, 2 * clip_len)
        self.wh = (_head(in_channels, wh_head_conv, 2) if wh_from == "frame"
                   else _head(in_channels * clip_len, wh_head_conv, 2 * clip_len))
        self.sta = _head(in_channels, wh_head_conv, 2)  # + tanh in forward
        nn.init.constant_(self.hm[-1].bias, HEATMAP_PRIOR_BIAS)
        for head in (self.mov, self.wh, self.sta):
            for m in head:
                if isinstance(m, nn.Conv2d):
                    nn.init.zeros_(m.bias)

    def forward(self, frames: torch.Tensor) -> dict[str, torch.Tensor]:
        bk, channels, h, w = frames.shape
        batch = bk // self.clip_len
        clip = concat_frames(frames, self.clip_len)
        wh_in = frames if self.wh_from == "frame" else clip
        wh = self.wh(wh_in).reshape(batch, 2 * self.clip_len, h, w)  # channels 2k, 2k+1
        sta = torch.tanh(self.sta(frames)).reshape(batch, 2 * self.clip_len, h, w)
        return {"hm": self.hm(clip), "wh": wh, "mov": self.mov(clip), "sta": sta}
