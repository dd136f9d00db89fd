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


@pytest.fixture
def two_plumes_root(tmp_path):
    """32×32, 12 frames: plume A on frames 1-5 and 8-12 drifting right 1 px a frame, plume B
    (still) on 2-5 and 8-11: two at once, and no gas on frames 6-7."""
    nframes = 12
    folder = tmp_path / "Frames" / VIDEO
    folder.mkdir(parents=True)
    for f in range(1, nframes + 1):
        cv2.imwrite(str(folder / f"{f:05d}.png"), np.full((32, 32, 3), 10 * f, np.uint8))

    def tube(first, last, box, dx):
        return np.array([[f, box[0] + dx * f, box[1], box[2] + dx * f, box[3]]
                         for f in range(first, last + 1)], np.float32)

    a, b = (0, 0, 8, 8), (16, 16, 28, 24)
    tubes = [tube(1, 5, a, 1), tube(8, 12, a, 1), tube(2, 5, b, 0), tube(8, 11, b, 0)]
    ann = {"labels": ["TrueLeakedGas"], "nframes": {VIDEO: nframes},
           "resolution": {VIDEO: (32, 32)}, "train_videos": [[]], "test_videos": [[VIDEO]],
           "gttubes": {VIDEO: {0: tubes}}}
    (tmp_path / "TrueLeakedGas.pkl").write_bytes(pickle.dumps(ann))
    return tmp_path


def test_targets_of_two_plumes_and_of_a_clip_over_the_gap(two_plumes_root):
    from iodvideo.data.clips import Clip

    ann = load_annotations(two_plumes_root / "TrueLeakedGas.pkl")
    transform = ResizeNormalize(input_size=32, down_ratio=4)  # grid 8: 1 cell = 4 px
    ds = ClipDataset(ann, [Clip(0, VIDEO, 2), Clip(0, VIDEO, 6)],
                     FrameFolderReader(two_plumes_root / "Frames"), transform, 4)
    both = ds[0]  # frames 2-5: two objects, each with a box on every frame
    assert both["mask"][:3].tolist() == [1, 1, 0]
    # widths/heights in grid cells per frame: A 8×8 px, B 12×8 px
    np.testing.assert_allclose(both["wh"][0, :8].numpy(), [2, 2] * 4)
    np.testing.assert_allclose(both["wh"][1, :8].numpy(), [3, 2] * 4)
    # A's centre x moves 1 px = 0.25 cell a frame: (6, 7, 8, 9) px; key = frame 4 (index 2)
    np.testing.assert_allclose(both["centers"][0, 0::2][:4].numpy(), [1.5, 1.75, 2.0, 2.25])
    np.testing.assert_allclose(both["centers"][1, 0::2][:4].numpy(), [5.5] * 4)
    hm = both["hm"][0].numpy()
    assert hm[1, 2] == 1.0 and hm[5, 5] == 1.0  # one peak per plume at its key centre
    assert sorted(both["index"][:2].tolist()) == [1 * 8 + 2, 5 * 8 + 5]
    gap = ds[1]  # frames 6-9: no box on 6-7, the plumes' second tubes start on frame 8
    assert gap["mask"].sum() == 0 and gap["hm"].sum() == 0


def test_datamodule_ground_truth_is_every_box_of_every_tube(two_plumes_root):
    from iodvideo.data.datamodule import IODVideoDataModule

    data = IODVideoDataModule(str(two_plumes_root), clip_len=4, input_size=32, down_ratio=4,
                              num_workers=0, val_fraction=0.0)
    videos, gt = data.ground_truth("test")
    assert videos == [VIDEO]
    assert gt[VIDEO][:, 0].tolist() == [1, 2, 2, 3, 3, 4, 4, 5, 5, 8, 8, 9, 9, 10, 10, 11, 11, 12]
    assert len(data.test_dataloader().dataset) == 9  # every start, gap or not


def test_two_class_items_splat_each_tube_on_its_class_channel(tmp_path):
    from classes_support import GAS_BOX, STEAM_BOX, video_name, write_two_class_root
    from iodvideo.data.clips import Clip

    root = write_two_class_root(tmp_path)
    ann = load_annotations(root / "TrueLeakedGas.pkl")
    assert ann.num_classes == 2
    transform = ResizeNormalize(input_size=64, down_ratio=4)  # grid 16: 1 cell = 4 px
    ds = ClipDataset(ann, [Clip(0, video_name(1), 1), Clip(1, video_name(2), 1)],
                     FrameFolderReader(root / "Frames"), transform, 4)
    both, gas_only = ds[0], ds[1]
    assert both["hm"].shape == (2, 16, 16) and gas_only["hm"].shape == (2, 16, 16)

    def cell(box):
        return int((box[0] + box[2]) / 2 / 4), int((box[1] + box[3]) / 2 / 4)

    (gx, gy), (sx, sy) = cell(GAS_BOX), cell(STEAM_BOX)
    # video 1 lists steam (label 1) first: slot 0 is steam, slot 1 gas
    assert both["mask"][:3].tolist() == [1, 1, 0]
    assert both["index"][:2].tolist() == [sy * 16 + sx, gy * 16 + gx]
    assert both["hm"][1, sy, sx] == 1 and both["hm"][0, gy, gx] == 1
    assert both["hm"][0, sy, sx] < 1 and both["hm"][1, gy, gx] < 1
    assert gas_only["hm"][1].sum() == 0 and gas_only["hm"][0, gy, gx] == 1


def test_datamodule_names_the_classes_and_gives_ground_truth_per_class(tmp_path):
    from classes_support import GAS_BOX, LABELS, video_name, write_two_class_root
    from iodvideo.data.datamodule import IODVideoDataModule

    root = write_two_class_root(tmp_path)
    data = IODVideoDataModule(str(root), clip_len=4, input_size=64, num_workers=0,
                              val_fraction=0.0)
    assert data.labels == LABELS and data.num_classes == 2
    videos, every = data.ground_truth("test")
    assert videos == [video_name(4)] and len(every[videos[0]]) == 10
    _, steam = data.ground_truth("test", label=1)
    assert steam[videos[0]].shape == (0, 5)  # the test video has no steam; still listed
    data.test_videos = lambda: [video_name(1)]
    (video,), both = data.ground_truth("test")
    _, gas = data.ground_truth("test", label=0)
    assert len(both[video]) == 20 and len(gas[video]) == 10
    np.testing.assert_array_equal(gas[video][:, 1:], np.tile(np.float32(GAS_BOX), (10, 1)))
    with pytest.raises(ValueError, match=r"label 2 out of range.*\['gas', 'steam'\]"):
        data.ground_truth("test", label=2)
