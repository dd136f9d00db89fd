"""Online TSM: each new frame costs one frame's forward pass, not a whole clip's.

TSM's shift has no weights tied to the clip length (protocol §5.5.2): channels ``[0, fold)`` of
frame t take frame t+1's values, ``[fold, 2·fold)`` frame t−1's, zeros outside the clip. So
the backbone, the neck (per frame) and the per-frame heads (``wh``, ``sta``) can run on an
unbounded stream as if it were one long clip: every shift point keeps the two activations it
last saw and emits frame t's shifted activation once frame t+1 has arrived there. Each of the
2 shift points per residual block therefore delays the stream by one frame; a frame's neck map
is ready ``delay`` = 2 × (number of blocks) frames after it entered. Per-frame neck maps, ``wh``
and ``sta`` are cached, and the clip heads ``hm`` / ``mov`` (which see K maps concatenated)
run on the newest K cached maps.

Where the definitions coincide the outputs equal the offline clip computation: a stream of
exactly K frames followed by :meth:`OnlineTSM.flush` gives the heads of ``detector(clip)``,
and any stream gives the per-frame features of the offline backbone run on the whole stream
as one clip. Inside a longer stream a frame at a clip's edge sees its real neighbour where an
isolated K-frame clip sees zero padding, so windows differ from independent clips there (the
price of sharing features across windows). ``legacy_layout`` mixes frames of a clip at the
input (protocol §5.4) and has no per-frame form, so it is refused, as are backbones whose
registry facts do not say ``online_streamable`` (only TSM's).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import torch
from torch import nn

from iodvideo.errors import ConfigError
from iodvideo.models.registry import backbone_facts
from iodvideo.models.temporal.base import PreOpConv2d
from iodvideo.models.temporal.shift import TemporalShift

Item = tuple[int, torch.Tensor]


def _shift3(prev: torch.Tensor | None, cur: torch.Tensor, nxt: torch.Tensor | None,
            fold_div: int) -> torch.Tensor:
    """TSM's shift for one frame given its neighbours (None = outside the stream)."""
    fold = cur.shape[1] // fold_div
    out = cur.clone()
    out[:, :fold] = nxt[:, :fold] if nxt is not None else 0
    out[:, fold : 2 * fold] = prev[:, fold : 2 * fold] if prev is not None else 0
    return out


class _Stage:
    """A step of the per-frame pipeline: push time-tagged frames in order, get results out."""

    def push(self, item: Item) -> list[Item]:
        raise NotImplementedError

    def flush(self) -> list[Item]:
        return []

    def reset(self) -> None:
        pass


class _Map(_Stage):
    def __init__(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> None:
        self.fn = fn

    def push(self, item: Item) -> list[Item]:
        return [(item[0], self.fn(item[1]))]


class _MotionInput(_Stage):
    """The detector's motion channels on a stream: each frame's difference to the previous
    one (none before the first, as for a clip's first frame)."""

    def __init__(self, motion: nn.Module) -> None:
        self.motion = motion
        self.reset()

    def reset(self) -> None:
        self.prev: torch.Tensor | None = None

    def push(self, item: Item) -> list[Item]:
        t, frame = item
        out = self.motion.step(frame, self.prev)
        self.prev = frame
        return [(t, out)]


class _ShiftThen(_Stage):
    """Temporal shift on a stream (one frame of delay), then ``fn(time, shifted)``.
    ``on_input(time, x)`` sees every input first (a block caches its shortcut there)."""

    def __init__(self, fold_div: int, fn: Callable[[int, torch.Tensor], torch.Tensor],
                 on_input: Callable[[int, torch.Tensor], None] | None = None) -> None:
        self.fold_div, self.fn, self.on_input = fold_div, fn, on_input
        self.reset()

    def reset(self) -> None:
        self.prev: torch.Tensor | None = None
        self.cur: Item | None = None

    def push(self, item: Item) -> list[Item]:
        if self.on_input is not None:
            self.on_input(*item)
        out = []
        if self.cur is not None:
            t, x = self.cur
            out.append((t, self.fn(t, _shift3(self.prev, x, item[1], self.fold_div))))
            self.prev = x
        self.cur = item
        return out

    def flush(self) -> list[Item]:
        out = []
        if self.cur is not None:
            t, x = self.cur
            out.append((t, self.fn(t, _shift3(self.prev, x, None, self.fold_div))))
        self.reset()
        return out


def _call(module: nn.Module | None, x: torch.Tensor) -> torch.Tensor:
    return x if module is None else module(x)


def _conv(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """The conv alone, without the PreOpConv2d's temporal pre-op (applied by the stream)."""
    return nn.Conv2d.forward(conv, x)


def _block_stages(block: nn.Module, fold_div: int) -> list[_Stage]:
    """timm BasicBlock / Bottleneck with shifted conv1 and conv2 → two streaming stages."""
    shortcut: dict[int, torch.Tensor] = {}
    bottleneck = hasattr(block, "conv3")

    def keep(t: int, x: torch.Tensor) -> None:
        shortcut[t] = x

    def first(_: int, x: torch.Tensor) -> torch.Tensor:
        return block.act1(block.bn1(_conv(block.conv1, x)))

    def first_basic(_: int, x: torch.Tensor) -> torch.Tensor:
        x = block.drop_block(block.bn1(_conv(block.conv1, x)))
        return block.aa(block.act1(x))

    def second(t: int, x: torch.Tensor) -> torch.Tensor:
        x = block.bn2(_conv(block.conv2, x))
        if bottleneck:
            x = block.aa(block.act2(block.drop_block(x)))
            x = block.bn3(block.conv3(x))
        x = _call(block.drop_path, _call(block.se, x))
        x = x + _call(block.downsample, shortcut.pop(t))
        return block.act3(x) if bottleneck else block.act2(x)

    return [_ShiftThen(fold_div, first if bottleneck else first_basic, keep),
            _ShiftThen(fold_div, second)]


class OnlineTSM:
    """Frame-by-frame TSM detector. :meth:`push` one preprocessed frame ``(3, S, S)``; get
    back the head outputs of every K-frame window that became complete, as
    ``(start, {hm, wh, mov, sta})`` with 1-based start frames (batch of one)."""

    def __init__(self, detector: nn.Module) -> None:
        backbone = detector.backbone
        if not backbone_facts(backbone).online_streamable:
            raise ConfigError(
                f"online mode needs a TSM checkpoint (backbone=tsm), this one is "
                f"{type(backbone).__name__}; use mode=clip"
            )
        if backbone.legacy_layout:
            raise ConfigError("online mode cannot run a legacy_layout=true TSM: its input "
                              "reshape mixes the frames of a clip (protocol §5.4); use mode=clip")
        self.detector = detector.eval()
        self.clip_len = int(detector.clip_len)
        motion = getattr(detector, "motion_input", None)
        self.stages: list[_Stage] = [_MotionInput(motion)] if motion is not None else []
        self.stages.append(_Map(backbone.stem))
        self.layer_ends: dict[int, int] = {}
        for layer in range(1, 5):
            for block in backbone.stage(layer):
                pre = [getattr(block, name, None) for name in ("conv1", "conv2")]
                if not all(isinstance(c, PreOpConv2d) and isinstance(c.pre, TemporalShift)
                           for c in pre):
                    raise ConfigError("online mode: unexpected TSM block layout "
                                      f"({type(block).__name__}); use mode=clip")
                self.stages += _block_stages(block, pre[0].pre.fold_div)
            self.layer_ends[len(self.stages) - 1] = layer - 1
        self.delay = sum(isinstance(s, _ShiftThen) for s in self.stages)
        self.reset()

    def reset(self) -> None:
        for stage in self.stages:
            stage.reset()
        self._levels: dict[int, list[torch.Tensor | None]] = {}
        self._window: deque[tuple[int, torch.Tensor, torch.Tensor, torch.Tensor]] = deque(
            maxlen=self.clip_len
        )
        self._next_time = 1

    def _record(self, index: int, items: list[Item], ready: list[Item]) -> None:
        level = self.layer_ends.get(index)
        if level is None:
            return
        for t, x in items:
            slots = self._levels.setdefault(t, [None] * 4)
            slots[level] = x
            if all(s is not None for s in slots):
                del self._levels[t]
                ready.append((t, self.detector.neck(slots)))

    def _run(self, items: list[Item], first: int, ready: list[Item]) -> None:
        for index in range(first, len(self.stages)):
            out: list[Item] = []
            for item in items:
                out += self.stages[index].push(item)
            items = out
            self._record(index, items, ready)

    def _windows(self, maps: list[Item]) -> list[tuple[int, dict[str, torch.Tensor]]]:
        heads = self.detector.heads
        out = []
        for t, feature in sorted(maps, key=lambda m: m[0]):
            wh = heads.wh(feature)
            sta = torch.tanh(heads.sta(feature))
            self._window.append((t, feature, wh, sta))
            if len(self._window) == self.clip_len:
                clip = torch.cat([w[1] for w in self._window], dim=1)
                out.append((self._window[0][0], {
                    "hm": heads.hm(clip), "wh": torch.cat([w[2] for w in self._window], 1),
                    "mov": heads.mov(clip), "sta": torch.cat([w[3] for w in self._window], 1),
                }))
        return out

    @torch.inference_mode()
    def push(self, frame: torch.Tensor) -> list[tuple[int, dict[str, torch.Tensor]]]:
        ready: list[Item] = []
        t = self._next_time
        self._next_time += 1
        self._run([(t, frame.unsqueeze(0))], 0, ready)
        return self._windows(ready)

    @torch.inference_mode()
    def flush(self) -> list[tuple[int, dict[str, torch.Tensor]]]:
        """End of stream: the last frames see zeros as their future (the clip end padding)."""
        ready: list[Item] = []
        for index, stage in enumerate(self.stages):
            items = stage.flush()
            self._record(index, items, ready)
            self._run(items, index + 1, ready)
        windows = self._windows(ready)
        self.reset()
        return windows

    @torch.inference_mode()
    def features(self, frames: torch.Tensor) -> torch.Tensor:
        """Neck maps ``(T, C, h, w)`` of a whole ``(T, 3, S, S)`` stream, pushed frame by
        frame and flushed (for tests and comparisons)."""
        maps: list[Item] = []
        original = self._windows
        self._windows = lambda ready: maps.extend(ready) or []  # type: ignore[method-assign]
        try:
            for frame in frames:
                self.push(frame)
            self.flush()
        finally:
            self._windows = original  # type: ignore[method-assign]
        return torch.cat([m for _, m in sorted(maps, key=lambda m: m[0])])
