"""Video files (decord) and frame folders give the same pixels; bad videos give clear errors."""

import pickle
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from iodvideo.data.annotations import load_annotations
from iodvideo.data.clips import inference_clips
from iodvideo.data.convert import convert
from iodvideo.data.dataset import ClipDataset
from iodvideo.data.readers import FrameFolderReader, VideoFileReader
from iodvideo.data.transforms import ResizeNormalize
from iodvideo.errors import FrameReadError

VIDEOS = ["TrueLeakedGas/001_wild_static_vague", "TrueLeakedGas/002_valve_dynamic_clear"]
NFRAMES = {VIDEOS[0]: 9, VIDEOS[1]: 7}


@pytest.fixture
def root(tmp_path):
    rng = np.random.default_rng(0)
    for video, n in NFRAMES.items():
        folder = tmp_path / "Frames" / video
        folder.mkdir(parents=True)
        for f in range(1, n + 1):
            grey = rng.integers(0, 256, (24, 32, 1), dtype=np.uint8)
            cv2.imwrite(str(folder / f"{f:05d}.png"), np.repeat(grey, 3, axis=2))
    tubes = {
        v: {0: [np.array([[f, 2, 3, 20, 15] for f in range(1, n + 1)], np.float32)]}
        for v, n in NFRAMES.items()
    }
    ann = {
        "labels": ["TrueLeakedGas"], "nframes": NFRAMES,
        "resolution": {v: (24, 32) for v in VIDEOS}, "train_videos": [[VIDEOS[0]]],
        "test_videos": [[VIDEOS[1]]], "gttubes": tubes,
    }
    (tmp_path / "TrueLeakedGas.pkl").write_bytes(pickle.dumps(ann))
    return tmp_path


def test_frames_to_videos_and_back_is_lossless(root):
    assert convert(root, "videos", show_progress=False) == 2
    assert convert(root, "videos", show_progress=False) == 0  # existing outputs are kept
    folder, video = FrameFolderReader(root / "Frames"), VideoFileReader(root / "Videos")
    for name, n in NFRAMES.items():
        frames = [1, 3, n, 2]
        np.testing.assert_array_equal(video.read(name, frames, n), folder.read(name, frames))
    back = root / "back"
    back.mkdir()
    (back / "TrueLeakedGas.pkl").write_bytes((root / "TrueLeakedGas.pkl").read_bytes())
    (root / "Videos").rename(back / "Videos")
    assert convert(back, "frames", show_progress=False) == 2
    for name, n in NFRAMES.items():
        np.testing.assert_array_equal(
            FrameFolderReader(back / "Frames").read(name, range(1, n + 1)),
            FrameFolderReader(root / "Frames").read(name, range(1, n + 1)),
        )


def test_video_dataset_in_forked_workers_matches_frames(root):
    convert(root, "videos", show_progress=False)
    ann = load_annotations(root / "TrueLeakedGas.pkl")
    clips = inference_clips(ann, VIDEOS, 4)
    transform = ResizeNormalize(16, 4)
    video_reader = VideoFileReader(root / "Videos")
    video_reader.read(VIDEOS[0], [1])  # opened in the parent: must not hang the workers
    from_videos = ClipDataset(ann, clips, video_reader, transform, 4)
    from_frames = ClipDataset(ann, clips, FrameFolderReader(root / "Frames"), transform, 4)
    loader = DataLoader(from_videos, batch_size=4, num_workers=2, multiprocessing_context="fork")
    batches = list(loader)
    videos = torch.cat([b["video"] for b in batches])
    expected = torch.stack([from_frames[i]["video"] for i in range(len(from_frames))])
    assert torch.equal(videos, expected)


def test_frame_count_mismatch_names_both_numbers(root):
    convert(root, "videos", show_progress=False)
    reader = VideoFileReader(root / "Videos")
    with pytest.raises(FrameReadError, match=r"001_wild_static_vague\.avi: has 9 frames .*=12"):
        reader.read(VIDEOS[0], [1], nframes=12)


def test_missing_and_corrupt_videos(root):
    reader = VideoFileReader(root / "Videos")
    with pytest.raises(FrameReadError, match=r"001_wild_static_vague\.avi: video file .* missing"):
        reader.read(VIDEOS[0], [1])
    path = reader.video_path(VIDEOS[0])
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\x00" * 1000)
    with pytest.raises(FrameReadError, match=r"001_wild_static_vague\.avi: cannot decode video"):
        reader.read(VIDEOS[0], [1])


def test_convert_cli_reports_missing_root(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "iodvideo.data.convert", str(tmp_path / "none"), "--to", "videos"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and "none/TrueLeakedGas.pkl" in result.stderr
    assert "Traceback" not in result.stderr


def test_synthiod_video_decodes_to_its_png_frames(tmp_path):
    from iodvideo.data.synth import SynthConfig, generate_synthiod

    root = tmp_path / "synth"
    config = SynthConfig(num_videos=3, min_frames=12, max_frames=12, height=48, width=64)
    generate_synthiod(root, config)
    assert convert(root, "videos", show_progress=False) == 3
    ann = load_annotations(root / "TrueLeakedGas.pkl")
    video = sorted(ann.nframes)[0]
    frames = list(range(1, ann.nframes[video] + 1))
    decoded = VideoFileReader(root / "Videos").read(video, frames, ann.nframes[video])
    np.testing.assert_array_equal(decoded, FrameFolderReader(root / "Frames").read(video, frames))


def mjpeg_avi(path, frames: int = 30, cut: float = 0.5):
    """An MJPEG ``.avi`` of ``frames`` noise frames (OpenCV's writer), and a copy of it with
    the last ``1 - cut`` of its bytes cut off (the header still announces ``frames``)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (64, 48))
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 256, (48, 64, 3), dtype=np.uint8))
    writer.release()
    data = path.read_bytes()
    short = path.with_name(f"short_{path.name}")
    short.write_bytes(data[: int(len(data) * cut)])
    return path, short


def test_a_truncated_avi_is_reported_with_both_counts(tmp_path):
    """decord indexes what is left of a truncated MJPEG .avi and stops there without a word;
    the reader says which file, how many frames decode and how many the header announces
    (once per file and process), and an annotation mismatch says the same."""
    from iodvideo.data.readers import container_frame_count

    (tmp_path / "TrueLeakedGas").mkdir()
    full, short = mjpeg_avi(tmp_path / "TrueLeakedGas" / "clip.avi")
    assert container_frame_count(full) == container_frame_count(short) == 30
    reader = VideoFileReader(tmp_path)
    with pytest.warns(UserWarning, match=r"short_clip\.avi: only (\d+) of the 30 frames"):
        decoded = reader.num_frames("TrueLeakedGas/short_clip")
    assert 0 < decoded < 30
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a complete file, or the same file again: silent
        assert reader.num_frames("TrueLeakedGas/clip") == 30
        assert reader.num_frames("TrueLeakedGas/short_clip") == decoded
    # (decoding the damaged file's frames is decord's business: on the last, cut frame, and
    # now and then on others, it fails, which read() reports as a FrameReadError naming it)
    with pytest.raises(FrameReadError, match=rf"has {decoded} frames .*nframes=30 \(its "
                                             r"container announces 30: a truncated file\?\)"):
        reader.read("TrueLeakedGas/short_clip", [1], nframes=30)


def test_complete_videos_announce_what_they_decode(root, tmp_path):
    """No false alarm: converted .avi files, OpenCV mp4v .mp4 files and containers without
    a stored count (None) are not reported."""
    import warnings

    from iodvideo.data.readers import container_frame_count

    convert(root, "videos", show_progress=False)
    reader = VideoFileReader(root / "Videos")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name, n in NFRAMES.items():
            assert reader.num_frames(name) == container_frame_count(reader.video_path(name)) == n
    mp4 = tmp_path / "clip.mp4"
    writer = cv2.VideoWriter(str(mp4), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (32, 24))
    for _ in range(7):
        writer.write(np.zeros((24, 32, 3), np.uint8))
    writer.release()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert VideoFileReader(tmp_path, "mp4").num_frames("clip") == 7
    assert container_frame_count(mp4) == 7
    assert container_frame_count(tmp_path / "clip.webm") is None
