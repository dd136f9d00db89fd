"""Training clips rendered on the fly: fresh videos, the same item layout as disk clips."""

import torch

from iodvideo.data.datamodule import IODVideoDataModule
from iodvideo.data.synth import SynthConfig
from iodvideo.data.synth.online import OnlineSynthClips
from iodvideo.data.transforms import ResizeNormalize

TINY = SynthConfig(num_videos=3, min_frames=8, max_frames=8, height=48, width=64, seed=5)


def dataset(**kwargs) -> OnlineSynthClips:
    return OnlineSynthClips(TINY, 3, ResizeNormalize(32, 4), clip_len=4, **kwargs)


def test_every_item_is_a_new_video_with_a_target():
    data = dataset()
    torch.manual_seed(0)
    a, b = data[0], data[0]  # the same index still draws a new video
    assert a["video"].shape == (4, 3, 32, 32)
    assert not torch.equal(a["video"], b["video"])
    assert a["mask"][0] == 1 and a["hm"].max() == 1.0
    assert a["video_idx"] == -1 and tuple(a["image_hw"].tolist()) == (48, 64)
    assert 0 < a["wh"][0, 0] <= 8 and 0 < a["wh"][0, 1] <= 8  # inside the 8x8 grid


def test_items_are_reproducible_from_torch_seed():
    data = dataset()
    torch.manual_seed(3)
    first = data[1]["video"]
    torch.manual_seed(3)
    assert torch.equal(data[1]["video"], first)


def test_context_frames_surround_the_clip():
    item = dataset(context=2)[0]
    assert item["video"].shape[0] == 4 + 2 * 2


def test_datamodule_trains_on_rendered_clips(tmp_path):
    synth = {"num_videos": 4, "min_frames": 12, "max_frames": 12, "height": 48, "width": 64}
    data = IODVideoDataModule(str(tmp_path / "s"), clip_len=4, input_size=32, batch_size=2,
                              num_workers=0, synth=synth, online={"clips_per_epoch": 4,
                                                                 "seed": 9})
    data.prepare_data()
    loader = data.train_dataloader()
    assert len(loader) == 2
    batch = next(iter(loader))
    assert batch["video"].shape == (2, 4, 3, 32, 32)
    assert (batch["video_idx"] == -1).all()


def test_online_clips_need_the_generator(tmp_path):
    import pytest

    from iodvideo.errors import ConfigError

    with pytest.raises(ConfigError, match="data.synth"):
        IODVideoDataModule(str(tmp_path), online={"clips_per_epoch": 4})


def test_label_by_visibility_puts_each_plume_on_its_visibility_channel():
    import pytest

    data = dataset(label_by="visibility")
    seen = set()
    for seed in range(12):
        torch.manual_seed(seed)  # replay the item's own draw to know its video's plan
        plan, _ = data.plan(int(torch.randint(0, 2**62, (1,)).item()))
        torch.manual_seed(seed)
        item = data[0]
        peaks = item["hm"].flatten(1).amax(1)
        assert item["hm"].shape == (2, 8, 8)
        channel = 0 if plan.clear else 1
        assert peaks[channel] == 1.0 and peaks[1 - channel] == 0.0
        seen.add(channel)
    assert seen == {0, 1}  # both visibilities came up
    assert dataset()[0]["hm"].shape == (1, 8, 8)
    with pytest.raises(ValueError, match="label_by"):
        dataset(label_by="scene")


def test_label_by_needs_a_root_with_the_matching_labels(tmp_path):
    import pytest

    from iodvideo.errors import ConfigError

    synth = {"num_videos": 4, "min_frames": 12, "max_frames": 12, "height": 48, "width": 64}
    data = IODVideoDataModule(str(tmp_path / "s"), clip_len=4, input_size=32, batch_size=2,
                              num_workers=0, synth=synth,
                              online={"clips_per_epoch": 4, "label_by": "visibility"})
    data.prepare_data()
    with pytest.raises(ConfigError, match="relabel_by_visibility"):
        data.train_dataloader()
