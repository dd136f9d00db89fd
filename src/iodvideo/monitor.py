"""Monitor: ``python -m iodvideo.monitor ckpt=<checkpoint> source=<file | index | url>``.

Reads frames as they arrive, keeps a rolling K-frame window (``mode=clip``: one clip forward
per frame, any backbone; ``mode=online``: TSM's shift cache, one frame's forward per frame),
writes each frame's detections and raises alarm / cleared events (JSON lines on stdout and in
``events.jsonl``) when a tube persists above a score for a configurable time, with hysteresis
(see :mod:`iodvideo.inference.stream.alarm`). A live stream that drops is reopened; each gap
is logged and written as a ``gap`` event.

With ``serve.enabled=true`` the same run also serves a live web page (annotated stream, alarm
banner, event log with the frame that raised each alarm, figures) and a JSON / Server-Sent
Events API on ``serve.host:serve.port`` (:mod:`iodvideo.inference.serve`). The detector keeps
the main thread and only ever replaces the hub's latest frame, so no viewer can slow it; the
JSON-lines files are written exactly as without the page.

With ``adapt.frames=N`` (or ``adapt.seconds``) the first N frames of the source calibrate
the detector's BatchNorm statistics (:mod:`iodvideo.inference.adapt`) before it detects
anything: those frames are shown on the page and in ``monitor.mp4`` without boxes, get no line
in ``detections.jsonl`` and cannot raise an alarm; a ``calibrated`` event marks the end, and
detection starts at frame N+1 (frame numbers and times stay the source's).
"""

from __future__ import annotations

import json
import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TextIO

import hydra
import numpy as np
from omegaconf import DictConfig, OmegaConf

from iodvideo.config import CONFIG_DIR
from iodvideo.errors import ConfigError, exit_on_user_error
from iodvideo.inference.adapt import AdaptOptions, StreamAdapter
from iodvideo.inference.serve import (
    AppSettings,
    FrameView,
    Hub,
    HubPublisher,
    ServeOptions,
    ServerThread,
    create_app,
    follow_calibration,
    linger,
    paced,
)
from iodvideo.inference.serve.options import redact
from iodvideo.inference.stream.alarm import AlarmConfig, AlarmMonitor
from iodvideo.inference.stream.engines import ClipEngine, OnlineEngine, Windows, make_engine
from iodvideo.inference.stream.render import PreviewWriter, draw_detections
from iodvideo.inference.stream.runner import ClipRunner
from iodvideo.inference.stream.sources import Gap, open_source

log = logging.getLogger(__name__)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


FrameSink = Callable[[FrameView], None]


def track_numbers(alarm: AlarmMonitor, frame: int, boxes: np.ndarray) -> tuple[int, ...]:
    """The alarm track each of ``boxes`` joined on ``frame`` (0: none), read back from the
    alarm monitor's tracks right after its update of that frame."""
    current = [t for t in alarm.tracks if t.last_frame == frame]
    numbers = []
    for box in np.asarray(boxes, dtype=np.float64).reshape(-1, 4):
        match = next((t for t in current if np.array_equal(t.box, box)), None)
        numbers.append(match.number if match is not None else 0)
    return tuple(numbers)


def current_tracks(alarm: AlarmMonitor) -> list[dict[str, Any]]:
    """The alarm monitor's live tracks (pending and alarmed), as shown by ``/api/status``."""
    return [{"track": t.number, "alarmed": t.alarmed, "box": [round(float(v), 2) for v in t.box],
             "peak_score": round(t.peak, 6), "start_frame": t.start_frame,
             "start_time": round(t.start_time, 4), "last_frame": t.last_frame}
            for t in alarm.tracks]


class Monitor:
    """Drives an engine over a source; per-frame detections and events go to ``sinks``.

    ``on_frame`` gets each frame's detections (a JSON-able record), ``on_event`` each event;
    every ``frame_sinks`` callable gets a :class:`FrameView` (the raw frame, its boxes,
    scores and tracks) before that frame's events are emitted, so an alarm's picture is of
    the frame that raised it. ``preview`` writes the annotated video. With an ``adapter`` the
    first frames go to it (shown without boxes) until it is done; the engine starts after.
    """

    def __init__(
        self, engine: ClipEngine | OnlineEngine, fps: float, alarm: AlarmConfig,
        max_boxes: int = 5, on_event: Callable[[dict[str, Any]], None] | None = None,
        on_frame: Callable[[dict[str, Any]], None] | None = None,
        preview: PreviewWriter | None = None, frame_sinks: Sequence[FrameSink] = (),
        adapter: StreamAdapter | None = None,
    ) -> None:
        self.engine = engine
        self.fps = fps
        self.alarm = AlarmMonitor(alarm, fps)
        self.max_boxes = max_boxes
        self.on_event = on_event or (lambda event: None)
        self.on_frame = on_frame or (lambda record: None)
        self.preview = preview
        self.sinks = list(frame_sinks)
        if preview is not None:
            self.sinks.insert(0, self._render)
        self.events: list[dict[str, Any]] = []
        self.frames_in = 0
        self.frames_out = 0
        self.adapter = adapter
        self.calibration_frames = 0  # frames the adapter took; the engine counts from after
        keep = engine.delay + engine.clip_len + 2
        self._raw: deque[np.ndarray] = deque(maxlen=keep)
        self._arrived: deque[float] = deque(maxlen=keep)

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
            start += self.calibration_frames
            first = self.frames_out + 1  # frames of this window not emitted yet
            for frame in range(max(first, start), start + k):
                if frame > self.frames_in:
                    break
                offset = frame - start
                top = tubelets[np.argsort(-tubelets[:, -1], kind="stable")[: self.max_boxes]]
                boxes, scores = top[:, 4 * offset : 4 * offset + 4], top[:, -1]
                now = self.time_of(frame)
                events = self.alarm.update(frame, now, boxes, scores)
                tracks = track_numbers(self.alarm, frame, boxes)
                self.on_frame({"frame": frame, "time": round(now, 4), "detections": [
                    {"box": [round(float(v), 2) for v in b], "score": round(float(s), 6),
                     "track": n} for b, s, n in zip(boxes, scores, tracks, strict=True)
                ]})
                if self.sinks:
                    view = self._view(frame, now, boxes, scores, tracks, events)
                    if view is not None:
                        for sink in self.sinks:
                            sink(view)
                for event in events:
                    self._event(event)
                self.frames_out = frame

    def _view(self, frame: int, now: float, boxes: np.ndarray, scores: np.ndarray,
              tracks: tuple[int, ...], events: list[dict[str, Any]]) -> FrameView | None:
        index = len(self._raw) - (self.frames_in - frame) - 1
        if index < 0:
            return None
        return FrameView(
            frame=frame, time=round(now, 4), image=self._raw[index],
            previous=self._raw[index - 1] if index > 0 else None,
            boxes=np.asarray(boxes, dtype=np.float32).reshape(-1, 4).copy(),
            scores=np.asarray(scores, dtype=np.float32).reshape(-1).copy(), tracks=tracks,
            alarm=self.alarm.alarm_active, latency=time.perf_counter() - self._arrived[index],
            events=tuple(events))

    def _render(self, view: FrameView) -> None:
        assert self.preview is not None
        self.preview.write(view.image, draw_detections(
            view.image, view.boxes, view.scores.tolist(), tracks=list(view.tracks),
            label=f"frame {view.frame}", alarm=view.alarm))

    def push(self, frame: np.ndarray) -> None:
        self.frames_in += 1
        self._raw.append(frame)
        self._arrived.append(time.perf_counter())
        if self.adapter is not None and not self.adapter.done:
            self._calibrate(frame)
            return
        self._emit(self.engine.push(frame))

    def _calibrate(self, frame: np.ndarray) -> None:
        assert self.adapter is not None
        finished = self.adapter.push(frame)
        self.frames_out = self.calibration_frames = self.frames_in
        empty = np.empty((0, 4))
        view = self._view(self.frames_in, self.time_of(self.frames_in), empty, empty[:, 0], (),
                          [])
        for sink in self.sinks if view is not None else ():
            sink(view)
        if finished:
            self._calibrated()

    def _calibrated(self) -> None:
        assert self.adapter is not None and self.adapter.result is not None
        self._event({"event": "calibrated", "frame": self.frames_in,
                     "time": round(self.time_of(self.frames_in), 4),
                     **self.adapter.result.as_dict()})

    def close(self) -> None:
        if self.adapter is not None and not self.adapter.done:
            if self.adapter.end() is not None:
                self._calibrated()
        self._emit(self.engine.flush())
        for event in self.alarm.close(self.frames_out, self.time_of(max(self.frames_out, 1))):
            self._event(event)
        if self.preview is not None:
            self.preview.close()

    def run(self, source: Iterable[np.ndarray], max_frames: int | None = None) -> None:
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


def _fan_out(*listeners: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def call(record: dict[str, Any]) -> None:
        for listen in listeners:
            listen(record)

    return call


def _until(frames: Iterable[np.ndarray], stop: threading.Event | None
           ) -> Iterator[np.ndarray]:
    for frame in frames:
        if stop is not None and stop.is_set():
            return
        yield frame


def _serve(stack: ExitStack, serve: ServeOptions, settings: AppSettings, hub: Hub,
           on_serving: Callable[[str], None] | None) -> None:
    server = stack.enter_context(ServerThread(create_app(hub, settings), serve.host, serve.port))
    token = " (add ?token=<token> to the address)" if settings.token is not None else ""
    print(f"serving the monitor page on {server.url}{token}", file=sys.stderr, flush=True)
    if on_serving is not None:
        on_serving(server.url)


def monitor(cfg: DictConfig, *, stop: threading.Event | None = None,
            on_serving: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the monitor of ``cfg``; its summary. ``stop`` (set from another thread) ends the
    run and the page's lingering early; ``on_serving`` gets the page's URL once it serves."""
    for key in ("ckpt", "source"):
        if OmegaConf.is_missing(cfg, key) or cfg[key] in (None, ""):
            raise ConfigError(f"{key}=... is required (see --help)")
    serve = ServeOptions.from_mapping(OmegaConf.to_container(cfg.serve, resolve=True)
                                      if cfg.get("serve") is not None else None)
    # token rules first: refuse before loading anything
    settings = serve.app_settings(float(cfg.render.diff_gain)) if serve.enabled else None
    adapt = AdaptOptions.from_mapping(OmegaConf.to_container(cfg.adapt, resolve=True)
                                      if cfg.get("adapt") is not None else None)
    runner = ClipRunner.from_checkpoint(str(cfg.ckpt), str(cfg.device), cfg.decode.mode,
                                        int(cfg.decode.top_n), cfg.decode.offset_scale,
                                        cfg.decode.get("sizes"))
    engine = make_engine(runner, str(cfg.mode))
    alarm = AlarmConfig(**OmegaConf.to_container(cfg.alarm, resolve=True))
    out_dir = Path(str(cfg.output_dir))
    out_dir.mkdir(parents=True, exist_ok=True)
    holder: dict[str, Monitor] = {}
    live = _is_live(cfg.source)
    source = open_source(
        cfg.source, cfg.fps, reconnect_delay=float(cfg.reconnect.delay_seconds),
        max_reconnects=int(cfg.reconnect.max_attempts),
        on_gap=lambda gap: holder["monitor"].gap(gap),
    ) if live else open_source(cfg.source, cfg.fps)
    preview = None
    if cfg.render.mp4:
        preview = PreviewWriter(out_dir / "monitor.mp4", None, source.fps,
                                bool(cfg.render.side_panel), float(cfg.render.diff_gain))
    log.info("%s: %s backbone, K=%d, mode=%s (delay %d frame(s)), %.1f fps", source.describe(),
             runner.backbone, runner.clip_len, cfg.mode, engine.delay, source.fps)
    adapter = StreamAdapter(runner.detector, runner.preprocess, adapt.frame_count(source.fps),
                            adapt.stride, adapt.prior) if adapt.enabled else None
    hub = publisher = None
    frames: Iterable[np.ndarray] = source
    if settings is not None:
        hub = Hub({"model": {"backbone": runner.backbone, "clip_len": runner.clip_len,
                             "mode": str(cfg.mode), "delay_frames": engine.delay,
                             "checkpoint": Path(str(cfg.ckpt)).name},
                   "source": redact(str(cfg.source)), "source_fps": round(source.fps, 3)},
                  history=int(serve.history))
        publisher = HubPublisher(hub)
        if serve.realtime and not live:
            frames = paced(source, source.fps)
    interrupted = False
    with ExitStack() as stack:
        events = stack.enter_context(open(out_dir / "events.jsonl", "w"))
        detections = stack.enter_context(open(out_dir / "detections.jsonl", "w"))
        to_file = _writer(events, echo=True)  # the file first: it is the complete record
        on_event = to_file if publisher is None else _fan_out(to_file, publisher.event)
        mon = Monitor(engine, source.fps, alarm, int(cfg.max_boxes), on_event,
                      _writer(detections), preview, adapter=adapter)
        if hub is not None and publisher is not None and settings is not None:
            _serve(stack, serve, settings, hub, on_serving)
            mon.sinks.append(lambda view: publisher.frame(
                view, current_tracks(mon.alarm), mon.frames_in - view.frame))
        holder["monitor"] = mon
        began = time.perf_counter()
        if hub is not None:
            follow_calibration(hub, adapter)
        try:
            mon.run(_until(frames, stop), cfg.max_frames)
        except KeyboardInterrupt:
            interrupted = True
        except BaseException as err:
            if hub is not None:
                hub.set_state("failed", error=str(err))
            raise
        seconds = time.perf_counter() - began
        summary = {
            "source": str(cfg.source), "mode": str(cfg.mode), "backbone": runner.backbone,
            "clip_len": runner.clip_len, "delay_frames": engine.delay, "frames": mon.frames_in,
            "seconds": round(seconds, 3), "frames_per_second": round(mon.frames_in / seconds, 2)
            if seconds > 0 else None,
            "alarms": sum(e["event"] == "alarm" for e in mon.events),
            "gaps": sum(e["event"] == "gap" for e in mon.events),
            "calibration": adapter.status() if adapter is not None else None,
            "interrupted": interrupted or bool(stop is not None and stop.is_set()),
        }
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=2))
        print(f"monitored {mon.frames_in} frames at {summary['frames_per_second']} frames/s, "
              f"{summary['alarms']} alarm(s) -> {out_dir}", file=sys.stderr, flush=True)
        if hub is not None:
            hub.set_state("ended", summary={k: summary[k] for k in (
                "frames", "seconds", "frames_per_second", "alarms", "gaps", "interrupted")})
            if not interrupted:
                linger(serve.linger_seconds, stop)
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
