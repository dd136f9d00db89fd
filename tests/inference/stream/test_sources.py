"""Video sources of predict/monitor on a truncated MJPEG .avi: read as far as it goes, with one
warning naming the file and how many frames were read of how many the container announces."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from iodvideo.inference.stream.sources import CaptureSource, VideoFileSource, open_source

ANNOUNCED = 30


@pytest.fixture(scope="module")
def avis(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A complete MJPEG .avi of 30 noise frames and a copy cut to its first half of bytes."""
    folder = tmp_path_factory.mktemp("avi")
    full = folder / "leak.avi"
    writer = cv2.VideoWriter(str(full), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    rng = np.random.default_rng(0)
    for _ in range(ANNOUNCED):
        writer.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    writer.release()
    short = folder / "cut.avi"
    data = full.read_bytes()
    short.write_bytes(data[: len(data) // 2])
    return full, short


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_decord_source_says_how_many_frames_a_truncated_avi_holds(avis, caplog):
    full, short = avis
    with caplog.at_level(logging.WARNING):
        source = open_source(str(short))
    assert isinstance(source, VideoFileSource)
    (message,) = _warnings(caplog)
    assert message.startswith(f"{short}: only {source.num_frames} of the {ANNOUNCED} frames")
    assert 0 < source.num_frames < ANNOUNCED and "truncated" in message
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        complete = open_source(str(full))
    assert complete.num_frames == ANNOUNCED and not _warnings(caplog)
    assert sum(1 for _ in complete) == ANNOUNCED


def test_opencv_source_says_how_many_frames_it_read_of_the_announced(avis, caplog):
    """The OpenCV capture (open_source's fallback for files decord refuses) announces the
    header's count up front and learns the truth only at the end of the file."""
    full, short = avis
    source = CaptureSource(str(short), live=False)
    assert source.num_frames == ANNOUNCED
    with caplog.at_level(logging.WARNING):
        read = sum(1 for _ in source)
    (message,) = _warnings(caplog)
    assert 0 < read < ANNOUNCED
    assert message.startswith(f"{short}: only {read} of the {ANNOUNCED} frames")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert sum(1 for _ in CaptureSource(str(full), live=False)) == ANNOUNCED
    assert not _warnings(caplog)


def test_predict_names_the_file_when_a_capture_ends_early(avis, tmp_path, tsm_ckpt, caplog,
                                                          monkeypatch):
    """Through OpenCV (what open_source falls back to when decord refuses a file) a truncated
    video is announced at its header's length and ends early: the warning and the error both
    name the file (the error used to say only "the source ended after N frames")."""
    import iodvideo.predict as predict_module
    from cli_support import base_config
    from iodvideo.errors import ConfigError

    _, short = avis
    monkeypatch.setattr(predict_module, "open_source",
                        lambda spec, fps=None: CaptureSource(str(spec), fps, live=False))
    cfg = base_config("predict", tmp_path / "out", ckpt=str(tsm_ckpt), input=str(short),
                      progress=False, device="cpu")
    with caplog.at_level(logging.WARNING), pytest.raises(ConfigError) as info:
        predict_module.predict(cfg)
    assert str(info.value).startswith(f"{short}: the source ended after ")
    assert f"announced {ANNOUNCED}" in str(info.value)
    assert any(m.startswith(f"{short}: only ") for m in _warnings(caplog))
