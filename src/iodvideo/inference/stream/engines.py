"""Per-frame detection engines for the monitor: push one frame, get the tubelets of every
K-frame window that became complete.

* :class:`ClipEngine`: a rolling window of the last K (+2·context) preprocessed frames, one
  whole clip forward per new frame (any backbone; no delay beyond TDN's future context);
* :class:`OnlineEngine`: TSM's online mode (:class:`~.online.OnlineTSM`), one frame's forward
  per new frame, windows delayed by ``delay`` frames.

Both return ``[(start, tubelets (N, 4K+1) in image pixels)]`` with 1-based window starts.
"""

from __future__ import annotations

from collections import deque

import numpy as np
import torch

from iodvideo.inference.stream.online import OnlineTSM
from iodvideo.inference.stream.runner import ClipRunner

Windows = list[tuple[int, np.ndarray]]


class ClipEngine:
    def __init__(self, runner: ClipRunner) -> None:
        self.runner = runner
        self.clip_len = runner.clip_len
        self.delay = runner.context
        self._frames: deque[torch.Tensor] = deque(maxlen=runner.frames_per_clip)
        self._count = 0

    def push(self, frame: np.ndarray) -> Windows:
        self._frames.append(self.runner.preprocess(frame[None])[0])
        self._count += 1
        if len(self._frames) < self._frames.maxlen:
            return []
        start = self._count - self.runner.frames_per_clip + 1 + self.runner.context
        tubelets = self.runner(torch.stack(list(self._frames))[None], frame.shape[:2])[0]
        return [(start, tubelets)]

    def flush(self) -> Windows:
        self._frames.clear()
        self._count = 0
        return []


class OnlineEngine:
    def __init__(self, runner: ClipRunner) -> None:
        self.runner = runner
        self.online = OnlineTSM(runner.detector)
        self.clip_len = runner.clip_len
        self.delay = self.online.delay
        self._image_hw: tuple[int, int] = (0, 0)

    def _decode(self, windows: list[tuple[int, dict[str, torch.Tensor]]]) -> Windows:
        return [(start, self.runner.decode(out, self._image_hw)[0]) for start, out in windows]

    def push(self, frame: np.ndarray) -> Windows:
        self._image_hw = (int(frame.shape[0]), int(frame.shape[1]))
        tensor = self.runner.preprocess(frame[None])[0].to(self.runner.device)
        return self._decode(self.online.push(tensor))

    def flush(self) -> Windows:
        return self._decode(self.online.flush())


def make_engine(runner: ClipRunner, mode: str) -> ClipEngine | OnlineEngine:
    from iodvideo.errors import ConfigError

    if mode == "clip":
        return ClipEngine(runner)
    if mode == "online":
        return OnlineEngine(runner)
    raise ConfigError(f"mode must be 'clip' or 'online', got {mode!r}")
