"""MOC-style augmentation: boxes stay on their pixels; legacy differs exactly where documented."""

import random

import numpy as np
import pytest

from iodvideo.data.augment import EXPAND_FILL_BGR, MOCAugment
from iodvideo.data.targets import build_targets
from iodvideo.data.transforms import ResizeNormalize

H, W, K = 48, 64, 3
GEOMETRIC = {"brightness_delta": 0.0, "contrast_range": (1.0, 1.0)}


def _clip(box=(20, 10, 35, 29)):
    """K black frames with a white rectangle covering pixels x1..x2, y1..y2 inclusive."""
    frames = np.zeros((K, H, W, 3), np.uint8)
    x1, y1, x2, y2 = box
    frames[:, y1 : y2 + 1, x1 : x2 + 1] = 255
    return frames, [np.tile(np.array(box, np.float32), (K, 1))]


def _white_bbox(image):
    ys, xs = np.nonzero(image[..., 0] > 200)
    return np.array([xs.min(), ys.min(), xs.max(), ys.max()], np.float32)


@pytest.mark.parametrize("seed", range(40))
def test_clean_boxes_frame_the_object_exactly(seed):
    random.seed(seed)
    frames, tubes = _clip()
    out = MOCAugment(**GEOMETRIC)(frames, tubes)
    assert out.frames.dtype == np.float32 and out.frames.shape[0] == K
    for tube in out.tubes:
        for k in range(K):
            np.testing.assert_allclose(tube[k], _white_bbox(out.frames[k]), atol=1.0)


def test_legacy_mirror_is_one_pixel_off_and_clean_is_exact():
    frames, tubes = _clip()
    for legacy, offset in ((False, 0.0), (True, 1.0)):
        random.seed(0)
        images, boxes = MOCAugment(legacy=legacy, mirror_p=1.0).mirror(
            frames.astype(np.float32), tubes
        )
        truth = _white_bbox(images[0])
        np.testing.assert_array_equal(boxes[0][0], truth + [offset, 0, offset, 0])


def test_legacy_expand_pastes_bottom_right_and_clean_varies():
    frames, tubes = _clip()
    legacy = MOCAugment(legacy=True, expand_p=1.0)
    clean = MOCAugment(expand_p=1.0)
    offsets = set()
    for seed in range(20):
        random.seed(seed)
        canvas, boxes = legacy.expand(frames.astype(np.float32), tubes)
        top, left = canvas.shape[1] - H, canvas.shape[2] - W
        np.testing.assert_array_equal(canvas[:, top:, left:], frames)
        np.testing.assert_array_equal(boxes[0][0], tubes[0][0] + [left, top, left, top])
        np.testing.assert_allclose(canvas[0, 0, 0], EXPAND_FILL_BGR, rtol=1e-6)
        random.seed(seed)
        canvas, boxes = clean.expand(frames.astype(np.float32), tubes)
        np.testing.assert_allclose(_white_bbox(canvas[0]), boxes[0][0])
        offsets.add((int(boxes[0][0][0]), int(boxes[0][0][1])))
    assert len(offsets) > 10


def test_photometric_is_shared_by_all_frames_and_unclipped():
    frames = np.full((K, H, W, 3), 250, np.uint8)
    values = set()
    for seed in range(30):
        random.seed(seed)
        out = MOCAugment().photometric(frames.astype(np.float32))
        assert np.unique(out).size == 1  # one value for every pixel of every frame
        values.add(float(out[0, 0, 0, 0]))
    assert max(values) > 255 and min(values) < 250  # brightness/contrast, no clipping


def test_tube_cropped_away_gives_mask_zero(monkeypatch):
    frames, tubes = _clip(box=(2, 2, 10, 10))
    aug = MOCAugment(**GEOMETRIC)
    monkeypatch.setattr(aug.__class__, "_sample_crop", lambda *a: np.array([30, 20, 63, 47.0]))
    monkeypatch.setattr(random, "choice", lambda seq: seq[-1])
    out = aug.crop(frames.astype(np.float32), tubes)
    assert out.tubes == [] and out.frames.shape == (K, 28, 34, 3)
    targets = build_targets(
        [ResizeNormalize(32, 4).boxes(t, out.frames.shape[1:3]) for t in out.tubes], K, 8, 4
    )
    assert targets["mask"].sum() == 0 and targets["hm"].sum() == 0


def test_crop_keeps_clipped_boxes_whose_centre_stays_inside(monkeypatch):
    frames, tubes = _clip(box=(20, 10, 35, 29))
    aug = MOCAugment(**GEOMETRIC)
    monkeypatch.setattr(aug.__class__, "_sample_crop", lambda *a: np.array([25, 0, 63, 47.0]))
    monkeypatch.setattr(random, "choice", lambda seq: seq[-1])
    out = aug.crop(frames.astype(np.float32), tubes)
    np.testing.assert_array_equal(out.tubes[0][0], [0, 10, 10, 29])
    np.testing.assert_array_equal(_white_bbox(out.frames[0]), [0, 10, 10, 29])


def test_crop_reports_which_tubes_it_kept(monkeypatch):
    frames, (outside,) = _clip(box=(2, 2, 10, 10))
    inside = np.tile(np.array((40, 25, 50, 35), np.float32), (K, 1))
    aug = MOCAugment(**GEOMETRIC)
    monkeypatch.setattr(aug.__class__, "_sample_crop", lambda *a: np.array([30, 20, 63, 47.0]))
    monkeypatch.setattr(random, "choice", lambda seq: seq[-1])
    out = aug.crop(frames.astype(np.float32), [outside, inside, outside, inside])
    assert out.kept == [1, 3] and len(out.tubes) == 2
    np.testing.assert_array_equal(out.tubes[0][0], [10, 5, 20, 15])


@pytest.mark.parametrize("seed", range(12))
def test_augmented_targets_keep_each_tube_on_its_class_channel(seed):
    """Two tubes of two classes through the whole augmentation and the targets: whichever
    the crop keeps, each peak lands on the channel of its own tube's class."""
    from iodvideo.data.dataset import clip_item

    frames = np.zeros((K, H, W, 3), np.uint8)
    left = np.tile(np.array((2, 2, 12, 12), np.float32), (K, 1))
    right = np.tile(np.array((44, 30, 60, 46), np.float32), (K, 1))
    transform = ResizeNormalize(32, 4)
    random.seed(seed)
    aug = MOCAugment(**GEOMETRIC)
    item = clip_item(frames, [left, right], transform, K, 4, aug, labels=[1, 0], num_classes=2)
    random.seed(seed)
    kept = aug(frames, [left, right])
    hm = item["hm"].numpy()
    assert hm.shape == (2, 8, 8)
    labels = [1, 0]
    for slot, t in enumerate(kept.kept):
        y, x = divmod(int(item["index"][slot]), 8)
        assert hm[labels[t], y, x] == 1.0 and hm[1 - labels[t], y, x] < 1.0
    assert item["mask"].sum() == len(kept.kept)
    assert {c for c in range(2) if hm[c].max() == 1.0} == {labels[t] for t in kept.kept}


def test_clip_item_needs_one_label_per_tube():
    from iodvideo.data.dataset import clip_item

    frames, tubes = _clip()
    with pytest.raises(ValueError, match="2 labels for 1 tubes"):
        clip_item(frames, tubes, ResizeNormalize(32, 4), K, labels=[0, 1], num_classes=2)
