"""IR camera effects: identity when off, one draw per clip, deterministic, each effect does
what its name says, bad settings fail in one line."""

import pickle

import numpy as np
import pytest
from hydra.utils import instantiate

from iodvideo.data.camera_augment import EFFECTS, TEMPORAL, CameraEffects
from iodvideo.data.transforms import COCO_MEAN_BGR, COCO_STD_BGR
from iodvideo.errors import ConfigError, find_user_error

K, H, W = 4, 48, 64
OFF = {f"{name}_p": 0.0 for name in EFFECTS}
ALL_ON = {f"{name}_p": 1.0 for name in EFFECTS}


def only(*names: str, **strengths) -> CameraEffects:
    """Every clip gets exactly the effects ``names``."""
    return CameraEffects(p=1.0, **{**OFF, **{f"{n}_p": 1.0 for n in names}, **strengths})


def grey_clip(image: np.ndarray, k: int = K) -> np.ndarray:
    """``k`` identical copies of a grey ``(H, W)`` image, as (k, H, W, 3) BGR."""
    return np.ascontiguousarray(np.broadcast_to(image[None, :, :, None], (k, *image.shape, 3)))


def textured() -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    return (128 + 60 * np.sin(xx / 5.0) * np.cos(yy / 7.0)).astype(np.uint8)


def ramp() -> np.ndarray:
    """Every grey level 0..255 on a 16x16 image."""
    return np.arange(256, dtype=np.uint8).reshape(16, 16)


def run(effects: CameraEffects, frames: np.ndarray, seed: int = 0) -> np.ndarray:
    return effects(frames, np.random.default_rng(seed))


# -- identity, shape, determinism -----------------------------------------------------------
@pytest.mark.parametrize("effects", [CameraEffects(p=0.0), CameraEffects(**OFF),
                                     CameraEffects(p=0.0, **ALL_ON)])
def test_off_is_exact_identity(effects):
    rng = np.random.default_rng(1)
    for frames in (rng.integers(0, 256, (K, H, W, 3), dtype=np.uint8), grey_clip(textured())):
        for seed in range(5):
            out = run(effects, frames, seed)
            assert out is not frames and out.dtype == np.uint8
            np.testing.assert_array_equal(out, frames)


@pytest.mark.parametrize("k", [1, 2, 8])
def test_dtype_and_shape_kept_and_grey_stays_grey(k):
    effects = CameraEffects(p=1.0, **ALL_ON)
    out = run(effects, grey_clip(textured(), k))
    assert out.shape == (k, H, W, 3) and out.dtype == np.uint8 and out.flags.c_contiguous
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 0], out[..., 2])
    colour = np.random.default_rng(0).integers(0, 256, (k, H, W, 3), dtype=np.uint8)
    assert run(effects, colour).shape == colour.shape
    single = grey_clip(textured(), k)[..., :1]
    assert run(effects, single).shape == single.shape


def test_input_is_not_modified():
    frames = grey_clip(textured())
    before = frames.copy()
    run(CameraEffects(p=1.0, **ALL_ON), frames)
    np.testing.assert_array_equal(frames, before)


def test_same_seed_same_bytes_other_seed_other_bytes():
    effects = CameraEffects(p=1.0, **ALL_ON)
    frames = grey_clip(textured())
    a, b, c = run(effects, frames, 7), run(effects, frames, 7), run(effects, frames, 8)
    assert a.tobytes() == b.tobytes()
    assert a.tobytes() != c.tobytes()
    defaults = CameraEffects()
    assert all(run(defaults, frames, s).tobytes() == run(defaults, frames, s).tobytes()
               for s in range(10))


def test_rng_use_is_fixed_and_effects_draw_independently():
    """Two draws per call whatever fires; switching one effect off leaves the others' draws."""
    after = []
    for effects in (CameraEffects(p=0.0), CameraEffects(p=1.0, **ALL_ON), CameraEffects()):
        rng = np.random.default_rng(3)
        effects(grey_clip(textured()), rng)
        after.append(rng.integers(2**62))
    assert len(set(after)) == 1
    full = CameraEffects(p=1.0, **ALL_ON).draw(np.random.default_rng(4))
    partial = CameraEffects(p=1.0, **{**ALL_ON, "noise_p": 0.0}).draw(np.random.default_rng(4))
    assert list(full) == list(EFFECTS) and list(partial) == [e for e in EFFECTS if e != "noise"]
    for name, child in partial.items():
        assert child.integers(2**62) == full[name].integers(2**62)


def test_defaults_fire_each_effect_sometimes():
    effects, rng = CameraEffects(), np.random.default_rng(0)
    seen = {name: 0 for name in EFFECTS}
    for _ in range(400):
        for name in effects.draw(rng):
            seen[name] += 1
    assert all(0 < count < 400 for count in seen.values()), seen


# -- clip consistency ----------------------------------------------------------------------
@pytest.mark.parametrize("name", [e for e in EFFECTS if e not in TEMPORAL])
def test_clip_effects_treat_identical_frames_identically(name):
    frames = grey_clip(textured())
    for seed in range(3):
        out = run(only(name), frames, seed)
        assert all(np.array_equal(out[0], frame) for frame in out[1:])


def test_all_clip_effects_together_are_clip_consistent():
    effects = CameraEffects(p=1.0, **{**ALL_ON, **{f"{e}_p": 0.0 for e in TEMPORAL}})
    out = run(effects, grey_clip(textured(), 8))
    assert all(np.array_equal(out[0], frame) for frame in out[1:])


@pytest.mark.parametrize("name", TEMPORAL)
def test_temporal_effects_differ_between_frames(name):
    out = run(only(name, noise_std=8.0, gain_drift=0.3, flicker=0.05), grey_clip(textured(), 8))
    assert not all(np.array_equal(out[0], frame) for frame in out[1:])


# -- each effect in its direction ------------------------------------------------------------
def test_invert_is_255_minus_x():
    frames = np.random.default_rng(0).integers(0, 256, (K, H, W, 3), dtype=np.uint8)
    np.testing.assert_array_equal(run(only("invert"), frames), 255 - frames)


def test_gamma_is_one_power_curve_and_above_one_darkens_mid_greys():
    levels = np.arange(256.0)
    directions = set()
    for seed in range(12):
        out = run(only("gamma", gamma=0.5), grey_clip(ramp()), seed)[0, ..., 0].ravel()
        out = out.astype(float)
        mid = slice(32, 225)
        gamma = np.median(np.log(out[mid] / 255) / np.log(levels[mid] / 255))
        assert 1 / 1.5 - 0.02 <= gamma <= 1.5 + 0.02
        np.testing.assert_allclose(out, 255 * (levels / 255) ** gamma, atol=1.5)
        if abs(gamma - 1) > 0.05:
            assert (out[128] < 128) == (gamma > 1) and (out[64] < 64) == (gamma > 1)
            directions.add(gamma > 1)
    assert directions == {True, False}


def blockiness(image: np.ndarray) -> float:
    """Mean jump across 8-pixel block borders over the mean jump inside blocks."""
    jumps = np.abs(np.diff(image.astype(float), axis=1))
    return jumps[:, 7::8].mean() / np.delete(jumps, np.s_[7::8], axis=1).mean()


def test_jpeg_low_quality_blocks_but_keeps_the_mean():
    frames = grey_clip(textured())
    out = run(only("jpeg", jpeg_quality_min=10, jpeg_quality_max=10), frames)
    assert not np.array_equal(out, frames)
    assert blockiness(out[0, ..., 0]) > 1.5 * blockiness(frames[0, ..., 0])
    assert abs(out.mean() - frames.mean()) < 1.0
    high = run(only("jpeg", jpeg_quality_min=95, jpeg_quality_max=95), frames)
    assert np.abs(high.astype(int) - frames).mean() < np.abs(out.astype(int) - frames).mean()


@pytest.mark.parametrize("name", ["blur", "motion_blur"])
def test_blurs_smooth_keep_the_mean_and_move_nothing(name):
    frames = grey_clip(np.random.default_rng(0).integers(0, 256, (H, W), dtype=np.uint8))
    out = run(only(name, blur_sigma=2.0, motion_blur_max=9), frames)
    def energy(x):
        image = x[0, ..., 0].astype(float)
        return np.abs(np.diff(image, axis=0)).mean() + np.abs(np.diff(image, axis=1)).mean()
    assert energy(out) < 0.9 * energy(frames)
    assert abs(out.mean() - frames.mean()) < 1.0
    spot = np.zeros((H, W), np.uint8)
    spot[20:27, 30:37] = 255
    blurred = run(only(name, blur_sigma=2.0, motion_blur_max=9), grey_clip(spot))[0, ..., 0]
    ys, xs = np.mgrid[0:H, 0:W]
    weight = blurred.astype(float)
    centroid = ((ys * weight).sum() / weight.sum(), (xs * weight).sum() / weight.sum())
    np.testing.assert_allclose(centroid, (23.0, 33.0), atol=0.25)  # centred kernel


def test_vignette_darkens_corners_not_centre():
    frames = grey_clip(np.full((H, W), 200, np.uint8))
    for seed in range(5):
        out = run(only("vignette", vignette_strength=0.5), frames, seed)[0, ..., 0]
        assert (out <= 200).all() and out[H // 2, W // 2] >= 195
        assert out[[0, 0, -1, -1], [0, -1, 0, -1]].mean() < out[H // 2, W // 2]


def test_fixed_pattern_is_rows_plus_columns():
    frames = grey_clip(np.full((H, W), 128, np.uint8))
    out = run(only("fixed_pattern", fixed_pattern_std=6.0), frames, 2)[0, ..., 0].astype(float)
    assert out.std() > 0.5
    fit = out.mean(axis=1, keepdims=True) + out.mean(axis=0, keepdims=True) - out.mean()
    assert np.abs(out - fit).max() <= 1.0  # additive row + column offsets (and rounding)
    assert out[:, :].mean(axis=0).std() > out.mean(axis=1).std()  # columns stronger


def test_noise_is_new_per_frame_with_one_level_and_zero_mean():
    frames = grey_clip(np.full((H, W), 128, np.uint8), 8)
    levels = []
    for seed in range(6):
        out = run(only("noise", noise_std=10.0), frames, seed)[..., 0].astype(float)
        stds = out.std(axis=(1, 2))
        assert stds.max() < 10.5 and stds.max() - stds.min() <= 0.25 * stds.mean()
        assert abs(out.mean() - 128) < 0.5
        levels.append(stds.mean())
    assert max(levels) > 3 and max(levels) - min(levels) > 1  # one level per clip, drawn


def test_gain_drift_is_a_monotone_map_per_frame():
    out = run(only("gain_drift", gain_drift=0.3, offset_drift=20.0), grey_clip(ramp(), 8))
    levels = out[..., 0].reshape(8, 256).astype(int)
    assert (np.diff(levels, axis=1) >= 0).all()  # each frame: a non-decreasing LUT
    assert len({row.tobytes() for row in levels}) > 1
    still = only("gain_drift", gain_drift=0.0, offset_drift=0.0, flicker=0.0)
    np.testing.assert_array_equal(run(still, grey_clip(ramp())), grey_clip(ramp()))


def test_brightness_only_shifts_and_contrast_keeps_order():
    frames = grey_clip(ramp())
    out = run(only("brightness_contrast", brightness=0.2, contrast=0.0), frames)[0, ..., 0]
    shift = out.astype(int).ravel() - np.arange(256)
    mid = shift[60:196]
    assert mid.max() - mid.min() <= 1 and abs(mid.mean()) > 0
    out = run(only("brightness_contrast", brightness=0.2, contrast=0.5), frames)[0, ..., 0]
    assert (np.diff(out.astype(int).ravel()) >= 0).all()


def test_overlay_is_border_bars_or_text_in_a_corner_band():
    frames = grey_clip(np.full((H, W), 128, np.uint8))
    kinds = set()
    for seed in range(20):
        changed = (run(only("overlay"), frames, seed)[0, ..., 0] != 128)
        rows, cols = np.nonzero(changed)
        assert rows.size > 0
        if changed[0].all() or changed[:, 0].all():
            kinds.add("bars")
            assert changed[-1].all() if changed[0].all() else changed[:, -1].all()
            assert not changed[H // 2, W // 2]
        else:
            kinds.add("text")
            assert rows.max() < H // 3 or rows.min() > 2 * H // 3
    assert kinds == {"bars", "text"}


# -- configuration ---------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [
    {"p": 1.5}, {"p": -0.1}, {"noise_p": 2}, {"jpeg_p": float("nan")}, {"noise_std": -1.0},
    {"gain_drift": -0.1}, {"flicker": -0.01}, {"vignette_strength": 1.5},
    {"letterbox_max": 0.4}, {"motion_blur_max": 2}, {"motion_blur_max": 4.5},
    {"jpeg_quality_min": 0}, {"jpeg_quality_min": 50, "jpeg_quality_max": 40},
    {"blur_sigma": "strong"}, {"invert_p": True},
])
def test_bad_settings_raise_one_line_config_error(kwargs):
    with pytest.raises(ConfigError) as err:
        CameraEffects(**kwargs)
    message = str(err.value)
    assert "\n" not in message and any(name in message for name in kwargs)


def test_bad_frames_raise():
    with pytest.raises(ValueError, match="uint8"):
        run(CameraEffects(), np.zeros((K, H, W, 3), np.float32))
    with pytest.raises(ValueError, match="uint8"):
        run(CameraEffects(), np.zeros((H, W, 3), np.uint8))


def test_numpy_scalars_are_accepted_and_empty_clips_pass():
    effects = CameraEffects(p=np.float64(1.0), motion_blur_max=np.int64(5))
    empty = np.zeros((0, H, W, 3), np.uint8)
    assert run(effects, empty).shape == empty.shape


def test_hydra_instantiates_and_pickles():
    node = {"_target_": "iodvideo.data.camera_augment.CameraEffects", "p": 1, "noise_std": 4}
    effects = instantiate(node)
    assert effects == CameraEffects(p=1, noise_std=4)
    assert pickle.loads(pickle.dumps(effects)) == effects
    with pytest.raises(Exception) as err:  # noqa: B017 - Hydra wraps the ConfigError
        instantiate({**node, "p": 2})
    assert isinstance(find_user_error(err.value), ConfigError)


def _polarity_only() -> CameraEffects:
    off = {name: 0.0 for name in CameraEffects.__dataclass_fields__ if name.endswith("_p")}
    return CameraEffects(p=1.0, **{**off, "invert_p": 1.0})


def test_only_training_clips_see_the_camera(tmp_path) -> None:
    """The datamodule hands the effects to the training dataset (on-disk and online) and to
    nothing else; a training clip through a black-hot camera is the inverted clip."""
    from iodvideo.data.datamodule import IODVideoDataModule
    from iodvideo.data.synth import SynthConfig, generate_synthiod

    root = tmp_path / "synth"
    synth = {"num_videos": 3, "min_frames": 16, "max_frames": 16, "height": 48, "width": 64,
             "seed": 3}
    generate_synthiod(root, SynthConfig(**synth))
    camera = _polarity_only()

    def module(**kwargs) -> IODVideoDataModule:
        data = IODVideoDataModule(str(root), clip_len=4, input_size=32, batch_size=2,
                                  eval_batch_size=2, num_workers=0, val_fraction=0.0, **kwargs)
        data.setup("fit")
        return data

    plain, inverted = module(), module(camera_augment=camera)
    assert inverted.train_dataloader().dataset.camera is camera
    assert inverted.val_dataloader().dataset.camera is None
    assert inverted.test_dataloader().dataset.camera is None
    ours, theirs = inverted.train_dataloader().dataset[0], plain.train_dataloader().dataset[0]
    mean = np.asarray(COCO_MEAN_BGR, dtype=np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(COCO_STD_BGR, dtype=np.float32).reshape(1, 3, 1, 1)
    pixels = (theirs["video"].numpy() * std + mean) * 255  # back to resized grey levels
    flipped = ((255 - pixels) / 255 - mean) / std
    np.testing.assert_allclose(ours["video"].numpy(), flipped, atol=2e-2)
    online = module(camera_augment=camera, synth=synth, online={"clips_per_epoch": 2})
    assert online.online_dataset().camera is camera
