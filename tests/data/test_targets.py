"""Training targets against protocol §4 and the §14 parity numbers."""

import numpy as np
import pytest

from iodvideo.data.targets import build_targets, draw_gaussian, gaussian_kernel, gaussian_radius
from iodvideo.data.transforms import ResizeNormalize


@pytest.mark.parametrize(
    ("height", "width", "radius"),
    [(5, 5, 1), (10, 10, 2), (18, 18, 4), (20, 30, 6), (40, 50, 12), (3.2, 7.7, 1)],
)
def test_gaussian_radius_parity(height, width, radius):
    assert gaussian_radius(height, width) == radius


def test_gaussian_kernel_peak_and_sigma():
    kernel = gaussian_kernel(2)
    assert kernel.shape == (5, 5) and kernel[2, 2] == 1.0
    sigma = 5 / 6
    assert kernel[2, 3] == pytest.approx(np.exp(-1 / (2 * sigma**2)))
    assert gaussian_kernel(0).tolist() == [[1.0]]


def test_draw_gaussian_clips_at_border_and_takes_the_max():
    hm = np.zeros((6, 6), np.float32)
    hm[0, 1] = 0.99
    draw_gaussian(hm, (0, 0), 2)
    assert hm[0, 0] == 1.0 and hm[0, 1] == 0.99
    assert hm[0, 2] == pytest.approx(gaussian_kernel(2)[2, 4])
    assert hm[3:, :].sum() == 0 and hm[:, 3:].sum() == 0


def test_build_targets_by_hand():
    # K=3, key = frame 1; boxes in grid units
    boxes = np.array([[10, 10, 20, 30], [11.5, 12, 21.5, 30], [13, 14, 23, 34]], np.float32)
    t = build_targets([boxes], clip_len=3, grid_size=72, max_objects=4)
    # key centre (16.5, 21.0) is truncated to (16, 21)
    assert t["hm"].shape == (1, 72, 72) and t["hm"][0, 21, 16] == 1.0
    assert t["hm"].max() == 1.0 and np.argmax(t["hm"]) == 21 * 72 + 16
    assert t["index"].tolist() == [21 * 72 + 16, 0, 0, 0]
    assert t["mask"].tolist() == [1, 0, 0, 0]
    np.testing.assert_allclose(t["wh"][0], [10, 20, 10, 18, 10, 20])
    np.testing.assert_allclose(t["centers"][0], [15, 20, 16.5, 21, 18, 24])
    np.testing.assert_allclose(t["mov"][0], [-1, -1, 0.5, 0, 2, 3])
    flat = [20 * 72 + 15, 21 * 72 + 16, 24 * 72 + 18]
    assert t["index_all"][0].tolist() == np.repeat(flat, 2).tolist()
    radius = gaussian_radius(20, 10)
    assert (t["hm"][0] > 0).sum() == (gaussian_kernel(radius) > 0).sum()


def test_centre_on_the_far_border_stays_inside_the_grid():
    boxes = np.array([[60, 60, 72, 72]] * 2, np.float32)
    t = build_targets([boxes], clip_len=2, grid_size=72, max_objects=1)
    assert t["index"][0] == 66 * 72 + 66
    boxes = np.array([[71, 71, 72, 72]] * 2, np.float32)
    t = build_targets([boxes], clip_len=2, grid_size=72, max_objects=1)
    assert t["index"][0] == 71 * 72 + 71 and t["index_all"].max() == 71 * 72 + 71


def test_too_many_objects_is_an_error():
    with pytest.raises(ValueError, match="max_objects=1"):
        build_targets([np.zeros((2, 4)) + [0, 0, 5, 5]] * 2, clip_len=2, grid_size=8, max_objects=1)


def test_resize_normalize_maps_boxes_to_the_grid_and_clips_them():
    transform = ResizeNormalize(input_size=288, down_ratio=4)
    boxes = transform.boxes(np.array([[-3, -6, 323, 120]], np.float32), (240, 320))
    np.testing.assert_allclose(boxes, [[0, 0, 72, 36]])
    frames = np.full((2, 240, 320, 3), 255, np.uint8)
    out = transform.frames(frames)
    assert out.shape == (2, 3, 288, 288) and out.dtype == np.float32
    expected = (1 - np.array(transform.mean)) / transform.std
    np.testing.assert_allclose(out[0, :, 0, 0], expected, rtol=1e-5)


def test_each_object_splats_on_its_class_channel():
    gas = np.array([[1, 1, 3, 3]] * 2, np.float32)  # key centre (2, 2)
    steam = np.array([[4, 5, 6, 7]] * 2, np.float32)  # key centre (5, 6)
    t = build_targets([gas, steam], clip_len=2, grid_size=8, max_objects=3, labels=[0, 1],
                      num_classes=2)
    assert t["hm"].shape == (2, 8, 8)
    assert t["hm"][0, 2, 2] == 1.0 and t["hm"][1, 6, 5] == 1.0
    assert t["hm"][0, 6, 5] < 1.0 and t["hm"][1, 2, 2] < 1.0  # no peak on the other class
    # regression targets are the class-free ones of the single-class call
    single = build_targets([gas, steam], clip_len=2, grid_size=8, max_objects=3)
    for key in ("wh", "mov", "centers", "index", "index_all", "mask"):
        np.testing.assert_array_equal(t[key], single[key])
    np.testing.assert_array_equal(single["hm"][0], t["hm"].max(axis=0))
    # labels None is class 0 of however many channels
    none = build_targets([gas], clip_len=2, grid_size=8, num_classes=3)
    assert none["hm"].shape == (3, 8, 8) and none["hm"][1:].sum() == 0


def test_labels_are_checked():
    boxes = [np.array([[1, 1, 3, 3]] * 2, np.float32)]
    with pytest.raises(ValueError, match=r"labels \[2\] out of range for num_classes=2"):
        build_targets(boxes, clip_len=2, grid_size=8, labels=[2], num_classes=2)
    with pytest.raises(ValueError, match=r"labels \[-1\] out of range"):
        build_targets(boxes, clip_len=2, grid_size=8, labels=[-1], num_classes=2)
    with pytest.raises(ValueError, match="2 labels for 1 objects"):
        build_targets(boxes, clip_len=2, grid_size=8, labels=[0, 1], num_classes=2)
