"""Clip sampling against the parity counts of protocol §14 and hand-built cases."""

import numpy as np
import pytest

from iodvideo.data.clips import (
    clip_boxes,
    clip_frames,
    clip_objects,
    inference_clips,
    key_index,
    training_clips,
)


@pytest.mark.parametrize(
    ("split", "train", "test", "test_frames"),
    [(1, 91_796, 45_021, 46_393), (2, 90_618, 46_199, 47_606), (3, 91_220, 45_597, 47_018)],
)
def test_clip_counts_match_the_reference(real_annotations, split, train, test, test_frames):
    ann = real_annotations
    assert len(training_clips(ann, ann.videos(split, "train"), 8)) == train
    test_videos = ann.videos(split, "test")
    assert len(inference_clips(ann, test_videos, 8)) == test
    assert sum(len(ann.tube(v)) for v in test_videos) == test_frames


def test_clips_cover_frames_like_the_reference(real_annotations):
    video = real_annotations.videos(1, "test")[0]
    n = real_annotations.nframes[video]
    clips = inference_clips(real_annotations, [video], 8)
    assert [c.start for c in clips] == list(range(1, n - 6))
    assert all(c.video_index == 0 and c.video == video for c in clips)


def test_key_frame_and_context_clamping():
    assert key_index(8) == 4 and key_index(4) == 2 and key_index(1) == 0
    assert clip_frames(1, 4, 10).tolist() == [1, 2, 3, 4]
    assert clip_frames(1, 4, 10, context=2).tolist() == [1, 1, 1, 2, 3, 4, 5, 6]
    assert clip_frames(7, 4, 10, context=2).tolist() == [5, 6, 7, 8, 9, 10, 10, 10]


def test_training_clips_respect_partial_tubes(real_annotations):
    class Partial:
        nframes = {"v": 10}

        def tubes(self, video):
            return [np.array([[f, 0, 0, 5, 5] for f in range(3, 9)], np.float32)]

    clips = training_clips(Partial(), ["v"], 4)  # tube covers frames 3..8
    assert [c.start for c in clips] == [3, 4, 5]


def test_strided_inference_clips_still_cover_every_frame(real_annotations):
    video = real_annotations.videos(1, "test")[0]
    n = real_annotations.nframes[video]
    starts = [c.start for c in inference_clips(real_annotations, [video], 8, stride=4)]
    assert starts[:3] == [1, 5, 9] and starts[-1] == n - 7  # the last start always kept
    covered = set()
    for start in starts:
        covered.update(range(start, start + 8))
    assert covered == set(range(1, n + 1))
    assert len(starts) <= (n - 7) // 4 + 2


def test_clip_stride_must_be_positive(real_annotations):
    from iodvideo.errors import ConfigError

    video = real_annotations.videos(1, "test")[0]
    with pytest.raises(ConfigError, match="stride"):
        inference_clips(real_annotations, [video], 8, stride=0)


class _TwoPlumes:
    """12 frames: plume A on 1-5 and 8-12, plume B on 2-5 and 8-11 (four tubes), no gas on
    frames 6-7."""

    nframes = {"v": 12}

    def tubes(self, video):
        def tube(first, last):
            return np.array([[f, 0, 0, 5, 5] for f in range(first, last + 1)], np.float32)

        return [tube(1, 5), tube(8, 12), tube(2, 5), tube(8, 11)]


def test_training_clips_keep_only_starts_with_every_tube_wholly_in_or_out():
    # K = 4: 2-5 holds A and B whole, 8-11 their second tubes; 1-4 cuts B, 9-12 cuts B's
    # second tube, starts 3-7 cut a tube or lie on the gap
    assert [c.start for c in training_clips(_TwoPlumes(), ["v"], 4)] == [2, 8]
    assert [c.start for c in training_clips(_TwoPlumes(), ["v"], 2)] == [2, 3, 4, 8, 9, 10]


def test_clip_boxes_are_the_tubes_present_on_every_clip_frame():
    tubes = _TwoPlumes().tubes("v")
    assert len(clip_boxes(tubes, 2, 4)) == 2 and len(clip_boxes(tubes, 8, 4)) == 2
    assert len(clip_boxes(tubes, 9, 4)) == 1  # A's second tube; B's ends on frame 11
    assert clip_boxes(tubes, 5, 4) == [] and clip_boxes(tubes, 6, 2) == []  # over the gap
    gappy = np.array([[f, f, 0, f + 5, 5] for f in (1, 2, 3, 5, 6)], np.float32)
    assert clip_boxes([gappy], 2, 3) == []  # frame 4 missing
    np.testing.assert_array_equal(clip_boxes([gappy], 1, 3)[0][:, 0], [1, 2, 3])


def test_clip_objects_name_the_present_tubes_by_index():
    tubes = _TwoPlumes().tubes("v")  # A1 (1-5), A2 (8-12), B1 (2-5), B2 (8-11)
    indices, boxes = clip_objects(tubes, 2, 4)
    assert indices == [0, 2] and len(boxes) == 2
    for t, box in zip(indices, boxes, strict=True):
        np.testing.assert_array_equal(box, tubes[t][tubes[t][:, 0] >= 2][:4, 1:5])
    assert clip_objects(tubes, 9, 4)[0] == [1]  # B2 ends on frame 11
    assert clip_objects(tubes, 5, 4) == ([], [])
    # the labels of the present tubes come from the tubes' labels through the indices
    labels = [0, 0, 1, 1]
    assert [labels[t] for t in clip_objects(tubes, 8, 4)[0]] == [0, 1]
