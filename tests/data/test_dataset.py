"""Reader + dataset on a hand-made IOD-Video-layout folder."""

import pickle

import cv2
import numpy as np
import pytest

from iodvideo.data.annotations import load_annotations
from iodvideo.data.clips import inference_clips
from iodvideo.data.dataset import ClipDataset
from iodvideo.data.readers import FrameFolderReader
from iodvideo.data.transforms import ResizeNormalize
from iodvideo.errors import FrameReadError

VIDEO = "TrueLeakedGas/001_wild_static_vague"


@pytest.fixture
def tiny_root(tmp_path):
    nframes, (h, w) = 6, (24, 32)
    folder = tmp_path / "Frames" / VIDEO
    folder.mkdir(parents=True)
    for f in range(1, nframes + 1):
        cv2.imwrite(str(folder / f"{f:05d}.png"), np.full((h, w, 3), 10 * f, np.uint8))
    tube = np.array([[f, 4, 4, 12 + f, 16] for f in range(1, nframes + 1)], np.float32)
    ann = {
        "labels": ["TrueLeakedGas"], "nframes": {VIDEO: nframes}, "resolution": {VIDEO: (h, w)},
        "train_videos": [[]], "test_videos": [[VIDEO]], "gttubes": {VIDEO: {0: [tube]}},
    }
    (tmp_path / "TrueLeakedGas.pkl").write_bytes(pickle.dumps(ann))
    return tmp_path


def test_reader_reads_frames_in_order(tiny_root):
    reader = FrameFolderReader(tiny_root / "Frames")
    frames = reader.read(VIDEO, [2, 2, 5])
    assert frames.shape == (3, 24, 32, 3) and frames.dtype == np.uint8
    assert frames[:, 0, 0, 0].tolist() == [20, 20, 50]


def test_missing_frame_names_the_file(tiny_root):
    reader = FrameFolderReader(tiny_root / "Frames")
    with pytest.raises(FrameReadError, match=r"00007\.png: frame 7 of .* is missing"):
        reader.read(VIDEO, [6, 7])
    (tiny_root / "Frames" / VIDEO / "00003.png").write_bytes(b"garbage")
    with pytest.raises(FrameReadError, match="not a readable image"):
        reader.read(VIDEO, [3])


def test_dataset_item(tiny_root):
    ann = load_annotations(tiny_root / "TrueLeakedGas.pkl")
    clips = inference_clips(ann, ann.videos(1, "test"), 4)
    transform = ResizeNormalize(input_size=16, down_ratio=4)
    ds = ClipDataset(ann, clips, FrameFolderReader(tiny_root / "Frames"), transform, 4, context=1)
    assert len(ds) == 3
    item = ds[1]  # frames 2..5, context 1..6
    assert item["video"].shape == (6, 3, 16, 16)
    assert item["hm"].shape == (1, 4, 4) and item["mask"][0] == 1
    assert item["start"].item() == 2 and item["video_idx"].item() == 0
    assert item["image_hw"].tolist() == [24, 32]
    # key frame = clip frame 2 = video frame 4: box (4, 4, 16, 16) -> grid (0.5, 0.667, 2, 2.667)
    np.testing.assert_allclose(item["wh"][0, 4:6].numpy(), [1.5, 2.0], rtol=1e-5)
    means = item["video"][:, 0].mean(dim=(1, 2)).numpy()
    assert np.all(np.diff(means) > 0)  # frames 1..6 in order, brightness increasing


def test_worker_errors_reach_the_user_as_the_original_line(tiny_root):
    from torch.utils.data import DataLoader

    from iodvideo.errors import user_message

    (tiny_root / "Frames" / VIDEO / "00004.png").unlink()
    ann = load_annotations(tiny_root / "TrueLeakedGas.pkl")
    clips = inference_clips(ann, ann.videos(1, "test"), 4)
    ds = ClipDataset(ann, clips, FrameFolderReader(tiny_root / "Frames"), ResizeNormalize(16, 4), 4)
    with pytest.raises(FrameReadError) as info:
        list(DataLoader(ds, batch_size=1, num_workers=1))
    assert "Traceback" in str(info.value)  # what torch re-raises ...
    message = user_message(info.value)  # ... and what the user reads
    assert message.endswith("00004.png: frame 4 of TrueLeakedGas/001_wild_static_vague is missing")
    assert "\n" not in message


def test_truncated_png_and_short_video(tiny_root):
    from iodvideo.errors import ConfigError

    path = tiny_root / "Frames" / VIDEO / "00002.png"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(FrameReadError, match=r"00002\.png: frame 2 .* not a readable image"):
        FrameFolderReader(tiny_root / "Frames").read(VIDEO, [1, 2])
    ann = load_annotations(tiny_root / "TrueLeakedGas.pkl")
    short = r"TrueLeakedGas\.pkl: video .*001_wild_static_vague has 6 frames"
    with pytest.raises(ConfigError, match=short):
        inference_clips(ann, ann.videos(1, "test"), 8)
