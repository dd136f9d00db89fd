"""Prediction on any IR video or stream: sources, clip runner, per-frame merging, TSM online
mode, alarm state machine and annotated previews (used by ``iodvideo.predict``,
``iodvideo.monitor`` and ``scripts/bench_predict.py``)."""

from iodvideo.inference.stream.alarm import AlarmConfig, AlarmMonitor
from iodvideo.inference.stream.engines import ClipEngine, OnlineEngine, make_engine
from iodvideo.inference.stream.offline import FrameMerger, LinkConfig, predict_video
from iodvideo.inference.stream.online import OnlineTSM
from iodvideo.inference.stream.runner import ClipRunner
from iodvideo.inference.stream.sources import CaptureSource, open_source

__all__ = [
    "AlarmConfig", "AlarmMonitor", "CaptureSource", "ClipEngine", "ClipRunner", "FrameMerger",
    "LinkConfig", "OnlineEngine", "OnlineTSM", "make_engine", "open_source", "predict_video",
]
