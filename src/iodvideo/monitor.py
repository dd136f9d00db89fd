"""Monitor: ``python -m iodvideo.monitor ckpt=<checkpoint> source=<file | index | url>``.

Reads frames as they arrive, keeps a rolling K-frame window (``mode=clip``: one clip forward
per frame, any backbone; ``mode=online``: TSM's shift cache, one frame's forward per frame),
writes each frame's detections and raises alarm / cleared events (JSON lines on stdout and in
``events.jsonl``) when a tube persists above a score for a configurable time, with hysteresis
(see :mod:`iodvideo.inference.stream.alarm`). A live stream that drops is reopened; each gap
is logged and written as a ``gap`` event.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from iodvideo.config import CONFIG_DIR
from iodvideo.errors import ConfigError, exit_on_user_error
from iodvideo.inference.stream.alarm import AlarmConfig, AlarmMonitor
from iodvideo.inference.stream.engines import ClipEngine, OnlineEngine, Windows, make_engine
from iodvideo.inference.stream.render import PreviewWriter, draw_detections
from iodvideo.inference.stream.runner import ClipRunner
from iodvideo.inference.stream.sources import FrameSource, Gap, open_source

log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Monitor:
    """Drives an engine over a source; per-frame detections and events go to ``sinks``."""

    def __init__(
        self, engine: ClipEngine | OnlineEngine, fps: float, alarm: AlarmConfig,
        max_boxes: int = 5, on_event: Callable[[dict[str, Any]], None] | None = None,
        on_frame: Callable[[dict[str, Any]], None] | None = None,
        preview: PreviewWriter | None = None,
    ) -> None:
        self.engine = engine
        self.fps = fps
        self.alarm = AlarmMonitor(alarm, fps)
        self.max_boxes = max_boxes
        self.on_event = on_event or (lambda event: None)
        self.on_frame = on_frame or (lambda record: None)
        self.preview = preview
        self.events: list[dict[str, Any]] = []
        self.frames_in = 0
        self.frames_out = 0
        self._raw: deque[np.ndarray] = deque(maxlen=engine.delay + engine.clip_len + 1)

    def time_of(self, frame: int) -> float:
        return (frame - 1) / self.fps

    def _event(self, event: dict[str, Any]) -> None:
        event = {**event, "wall_time": _now()}
        self.events.append(event)
        self.on_event(event)

    def gap(self, gap: Gap) -> None:
        self._event({"event": "gap", "after_frame": gap.after_frame,
                     "seconds": round(gap.seconds, 3), "attempts": gap.attempts,
                     "reconnected": gap.reconnected})

    def _emit(self, windows: Windows) -> None:
        k = self.engine.clip_len
        for start, tubelets in windows:
            first = self.frames_out + 1  # frames of this window not emitted yet
            for frame in range(max(first, start), start + k):
                if frame > self.frames_in:
                    break
                offset = frame - start
                top = tubelets[np.argsort(-tubelets[:, -1], kind="stable")[: self.max_boxes]]
                boxes, scores = top[:, 4 * offset : 4 * offset + 4], top[:, -1]
                now = self.time_of(frame)
                self.on_frame({"frame": frame, "time": round(now, 4), "detections": [
                    {"box": [round(float(v), 2) for v in b], "score": round(float(s), 6)}
                    for b, s in zip(boxes, scores, strict=True)
                ]})
                for event in self.alarm.update(frame, now, boxes, scores):
                    self._event(event)
                if self.preview is not None:
                    self._render(frame, boxes, scores)
                self.frames_out = frame

    def _render(self, frame: int, boxes: np.ndarray, scores: np.ndarray) -> None:
        index = len(self._raw) - (self.frames_in - frame) - 1
        if index < 0:
            return
        raw = self._raw[index]
        assert self.preview is not None
        self.preview.write(raw, draw_detections(raw, boxes, scores.tolist(), None,
                                                f"frame {frame}", self.alarm.alarm_active))

    def push(self, frame: np.ndarray) -> None:
        self.frames_in += 1
        if self.preview is not None:
            self._raw.append(frame)
        self._emit(self.engine.push(frame))

    def close(self) -> None:
        self._emit(self.engine.flush())
        for event in self.alarm.close(self.frames_out, self.time_of(max(self.frames_out, 1))):
            self._event(event)
        if self.preview is not None:
            self.preview.close()

    def run(self, source: FrameSource, max_frames: int | None = None) -> None:
        try:
            for frame in source:
                self.push(frame)
                if max_frames is not None and self.frames_in >= max_frames:
                    break
        finally:
            self.close()


def _writer(handle: TextIO, echo: bool = False) -> Callable[[dict[str, Any]], None]:
    def write(record: dict[str, Any]) -> None:
        line = json.dumps(record)
        handle.write(line + "\n")
        handle.flush()
        if echo:
            print(line, flush=True)

    return write


def monitor(cfg: DictConfig) -> dict[str, Any]:
    for key in ("ckpt", "source"):
        if OmegaConf.is_missing(cfg, key) or cfg[key] in (None, ""):
            raise ConfigError(f"{key}=... is required (see --help)")
    runner = ClipRunner.from_checkpoint(str(cfg.ckpt), str(cfg.device), cfg.decode.mode,
                                        int(cfg.decode.top_n), cfg.decode.offset_scale)
    engine = make_engine(runner, str(cfg.mode))
    alarm = AlarmConfig(**OmegaConf.to_container(cfg.alarm, resolve=True))
    out_dir = Path(str(cfg.output_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    holder: dict[str, Monitor] = {}
    source = open_source(
        cfg.source, cfg.fps, reconnect_delay=float(cfg.reconnect.delay_seconds),
        max_reconnects=int(cfg.reconnect.max_attempts),
        on_gap=lambda gap: holder["monitor"].gap(gap),
    ) if _is_live(cfg.source) else open_source(cfg.source, cfg.fps)
    preview = None
    if cfg.render.mp4:
        preview = PreviewWriter(out_dir / "monitor.mp4", None, source.fps,
                                bool(cfg.render.side_panel), float(cfg.render.diff_gain))
    log.info("%s: %s backbone, K=%d, mode=%s (delay %d frame(s)), %.1f fps", source.describe(),
             runner.backbone, runner.clip_len, cfg.mode, engine.delay, source.fps)
    began = time.perf_counter()
    with open(out_dir / "events.jsonl", "w") as events, \
            open(out_dir / "detections.jsonl", "w") as detections:
        mon = Monitor(engine, source.fps, alarm, int(cfg.max_boxes), _writer(events, echo=True),
                      _writer(detections), preview)
        holder["monitor"] = mon
        mon.run(source, cfg.max_frames)
    seconds = time.perf_counter() - began
    summary = {
        "source": str(cfg.source), "mode": str(cfg.mode), "backbone": runner.backbone,
        "clip_len": runner.clip_len, "delay_frames": engine.delay, "frames": mon.frames_in,
        "seconds": round(seconds, 3), "frames_per_second": round(mon.frames_in / seconds, 2)
        if seconds > 0 else None,
        "alarms": sum(e["event"] == "alarm" for e in mon.events),
        "gaps": sum(e["event"] == "gap" for e in mon.events),
    }
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"monitored {mon.frames_in} frames at {summary['frames_per_second']} frames/s, "
          f"{summary['alarms']} alarm(s) -> {out_dir}", file=sys.stderr)
    return summary


def _is_live(source: Any) -> bool:
    text = str(source).strip()
    return text.isdigit() or "://" in text


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="monitor")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        monitor(cfg)


if __name__ == "__main__":
    main()
