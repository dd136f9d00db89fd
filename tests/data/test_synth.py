"""SynthIOD: real layout and schema, honest splits, determinism, atomic writes, physics."""

from __future__ import annotations

import io
import os
import pickle
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from omegaconf import OmegaConf

from iodvideo.data.synth import (
    SynthConfig,
    SynthRootExistsError,
    generate_synthiod,
    plan_videos,
)
from iodvideo.data.synth.layout import SCENE_COUNTS
from iodvideo.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
# The configuration the training tests use.
TINY = dict(num_videos=4, min_frames=16, max_frames=16, height=64, width=64)
# the realism effects of issue 30 (people at the leak, camera and video path) all off
NO_EFFECTS = dict(workers=0.0, agc=0.0, vignetting=0.0, shake=0.0, compression=0.0,
                  black_hot=0.0, letterbox=0.0, stems=0.0)
_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _StrictUnpickler(pickle.Unpickler):
    """Containers and numpy arrays only (stricter than the project loader: no scalars)."""

    def find_class(self, module, name):
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"global {module}.{name} not allowed")


def strict_load(path: Path):
    return _StrictUnpickler(io.BytesIO(path.read_bytes()), encoding="latin1").load()


def schema(obj):
    """A type skeleton of an annotation dict (one sample per container)."""
    if isinstance(obj, dict):
        if not obj:
            return ("dict",)
        key, value = next(iter(obj.items()))
        return ("dict", type(key).__name__, schema(value))
    if isinstance(obj, (list, tuple)):
        return (type(obj).__name__, schema(obj[0]) if obj else None)
    if isinstance(obj, np.ndarray):
        return ("ndarray", str(obj.dtype), obj.ndim, obj.shape[-1])
    return type(obj).__name__


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "tiny"
    generate_synthiod(root, SynthConfig(**TINY))
    return root


@pytest.fixture(scope="module")
def tiny_ann(tiny: Path) -> dict:
    return strict_load(tiny / "TrueLeakedGas.pkl")


def test_schema_matches_the_real_pickle(tiny_ann, annotations_dir):
    real = strict_load(annotations_dir / "TrueLeakedGas.pkl")
    assert list(tiny_ann) == list(real)
    for key in real:
        assert schema(tiny_ann[key]) == schema(real[key]), key
    assert tiny_ann["labels"] == ["TrueLeakedGas"]
    assert len(tiny_ann["train_videos"]) == len(tiny_ann["test_videos"]) == 3
    for video, n in tiny_ann["nframes"].items():
        assert type(n) is int and n == 16
        assert tiny_ann["resolution"][video] == (64, 64)
        assert list(tiny_ann["gttubes"][video]) == [0]
        (tube,) = tiny_ann["gttubes"][video][0]
        assert tube.dtype == np.float32 and tube.shape == (n, 5)


def test_project_loader_reads_main_and_subset_pickles(tiny):
    from iodvideo.data.annotations import load_annotations

    names = sorted(p.name for p in tiny.glob("*.pkl"))
    assert names == ["TrueLeakedGas.pkl", "TrueLeakedGas_c1_2.pkl", "TrueLeakedGas_v1_2.pkl"]
    for name in names:
        load_annotations(tiny / name)


def test_names_and_splits_partition_the_videos(tiny_ann):
    videos = set(tiny_ann["nframes"])
    assert len(videos) == 4
    for video in videos:
        cls, stem = video.split("/")
        index, scene, motion, visibility = stem.split("_")
        assert cls == "TrueLeakedGas" and len(index) == 3 and index.isdigit()
        assert scene in SCENE_COUNTS and motion in ("static", "dynamic")
        assert visibility in ("clear", "vague")
    tests = [set(s) for s in tiny_ann["test_videos"]]
    assert sum(len(s) for s in tests) == len(videos) and set.union(*tests) == videos
    for train, test in zip(tiny_ann["train_videos"], tiny_ann["test_videos"], strict=True):
        assert train and test, "every split needs a train and a test video"
        assert set(train) | set(test) == videos and not set(train) & set(test)
        assert len(train) + len(test) == len(videos)


def test_subset_pickles_are_filtered_copies(tiny, tiny_ann):
    for tag, suffix in (("c1", "_clear"), ("v1", "_vague")):
        (path,) = tiny.glob(f"TrueLeakedGas_{tag}_*.pkl")
        sub = strict_load(path)
        keep = {v for v in tiny_ann["nframes"] if v.endswith(suffix)}
        assert path.stem.endswith(f"_{len(keep)}") and set(sub["nframes"]) == keep
        assert sub["test_videos"] == [[v for v in s if v in keep] for s in tiny_ann["test_videos"]]
        for video in keep:
            np.testing.assert_array_equal(sub["gttubes"][video][0][0],
                                          tiny_ann["gttubes"][video][0][0])


def test_frames_exist_grey_in_three_equal_channels(tiny, tiny_ann):
    for video, n in tiny_ann["nframes"].items():
        folder = tiny / "Frames" / video
        assert sorted(p.name for p in folder.iterdir()) == [f"{i:05d}.png" for i in range(1, n + 1)]
        for i in (1, n):
            image = cv2.imread(str(folder / f"{i:05d}.png"), cv2.IMREAD_UNCHANGED)
            assert image.shape == (64, 64, 3) and image.dtype == np.uint8
            assert (image[..., 0] == image[..., 1]).all() and (image[..., 1] == image[..., 2]).all()
            assert image.std() > 1.0  # textured, not blank


def test_boxes_cover_every_frame_with_positive_size(tiny_ann):
    for video, (tube,) in ((v, t[0]) for v, t in tiny_ann["gttubes"].items()):
        n = tiny_ann["nframes"][video]
        np.testing.assert_array_equal(tube[:, 0], np.arange(1, n + 1))
        x1, y1, x2, y2 = tube[:, 1:].T
        assert (x2 > x1).all() and (y2 > y1).all(), video
        assert (x1 >= 0).all() and (y1 >= 0).all() and (x2 <= 63).all() and (y2 <= 63).all()
        np.testing.assert_array_equal(tube, np.rint(tube))  # whole pixels, like the real ones


def _tree(root: Path) -> dict[str, bytes]:
    files = sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def test_same_seed_gives_byte_identical_output(tiny, tmp_path):
    again = tmp_path / "again"
    generate_synthiod(again, SynthConfig(**TINY))
    assert _tree(again) == _tree(tiny)
    other = tmp_path / "other"
    generate_synthiod(other, SynthConfig(**TINY, seed=1))
    assert _tree(other) != _tree(tiny)


def test_refuses_a_non_empty_root_and_overwrites_on_request(tmp_path):
    root = tmp_path / "data"
    root.mkdir()
    (root / "keep.txt").write_text("mine")
    with pytest.raises(SynthRootExistsError, match="not empty"):
        generate_synthiod(root, SynthConfig(**TINY))
    assert (root / "keep.txt").read_text() == "mine"
    pkl = generate_synthiod(root, SynthConfig(**TINY), overwrite=True)
    assert pkl == root / "TrueLeakedGas.pkl" and pkl.is_file()
    assert not (root / "keep.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # no staging left behind


def test_an_interrupted_run_leaves_nothing_that_looks_complete(tmp_path):
    def stop(done, total):
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_synthiod(tmp_path / "data", SynthConfig(**TINY), progress=stop)
    assert list(tmp_path.iterdir()) == []


def test_progress_reports_every_video(tmp_path):
    calls = []
    generate_synthiod(tmp_path / "d", SynthConfig(**TINY), progress=lambda *a: calls.append(a))
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]


def test_config_defaults_are_conf_synth_yaml():
    conf = OmegaConf.to_container(OmegaConf.load(REPO / "conf" / "synth.yaml"))
    conf.pop("hydra"), conf.pop("root"), conf.pop("overwrite"), conf.pop("out")
    assert sorted(conf) == sorted(SynthConfig.field_names())
    assert SynthConfig(**conf) == SynthConfig()


@pytest.mark.parametrize(
    "bad",
    [
        {"num_videos": 2}, {"max_frames": 5, "min_frames": 10}, {"height": 0},
        {"clear_contrast": [5.0, 1.0]}, {"noise_sigma": "loud"}, {"box_threshold": 1.5},
        {"image_ext": "gif"}, {"dynamic_fraction": 2.0}, {"seed": -1}, {"num_videos": 4.5},
        {"trajectories": "fake"}, {"difficulty": "nightmare"}, {"camera_speed": [1.0, 0.5]},
    ],
)
def test_bad_config_values_are_refused_clearly(bad):
    with pytest.raises(ConfigError, match=f"synth.{next(iter(bad))}"):
        SynthConfig(**bad)


def test_config_is_frozen_and_accepts_lists():
    config = SynthConfig(clear_contrast=[9, 12])
    assert config.clear_contrast == (9.0, 12.0)
    with pytest.raises(AttributeError):
        config.num_videos = 3  # type: ignore[misc]


def test_plan_matches_the_config():
    plans = plan_videos(SynthConfig(num_videos=30, min_frames=20, max_frames=25))
    assert [p.index for p in plans] == list(range(1, 31))
    assert all(20 <= p.nframes <= 25 for p in plans)
    assert sum(p.clear for p in plans) == round(30 * 0.483)
    assert sum(p.dynamic for p in plans) == round(30 * 0.65)


@pytest.mark.parametrize(
    ("difficulty", "clear", "dynamic"),
    [("easy", 12, 0), ("hard", 0, 12), ("balanced", 6, 6), ("vague", 0, round(12 * 0.65)),
     ("static", round(12 * 0.483), 0)],
)
def test_difficulty_presets_set_the_mix(difficulty, clear, dynamic):
    plans = plan_videos(SynthConfig(num_videos=12, difficulty=difficulty))
    assert sum(p.clear for p in plans) == clear
    assert sum(p.dynamic for p in plans) == dynamic


def test_cli_writes_a_tiny_set_and_refuses_to_clobber_it(tmp_path):
    root = tmp_path / "cli"
    args = [sys.executable, "-m", "iodvideo.synth", f"root={root}"]
    args += [f"{k}={v}" for k, v in TINY.items()]
    env = dict(os.environ, HF_HUB_OFFLINE="1", WANDB_MODE="offline")
    done = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "4 videos / 64 frames" in done.stdout
    assert (root / "TrueLeakedGas.pkl").is_file()
    again = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path,
                           timeout=120)
    assert again.returncode == 2 and "error:" in again.stderr and "overwrite" in again.stderr
    bad = subprocess.run(args[:3] + ["+colour=red"], capture_output=True, text=True, env=env,
                         cwd=tmp_path, timeout=120)
    assert bad.returncode == 2 and "unknown synth parameters" in bad.stderr


def test_the_plume_is_revealed_by_motion_not_by_a_single_frame():
    """CCR in one frame is low; on the temporal std of an 8-frame clip it is clearly higher.
    The plume's own physics: no distractors, no workers, no camera or video effects."""
    from iodvideo.data.synth.stats import measure, summarise

    config = SynthConfig(num_videos=6, min_frames=24, max_frames=24, height=96, width=128,
                         dynamic_fraction=0.0, distractors=0.0, text_overlay=0.0, seed=3,
                         **NO_EFFECTS)
    summary = summarise(measure(config))
    for group in ("clear", "vague"):
        s = summary[group]
        assert s["ccr_frame"] < (1.5 if group == "clear" else 0.6), (group, s)
        assert s["ccr_std"] > 1.5 * s["ccr_frame"], (group, s)
        assert s["motion_ratio"] > 1.0, (group, s)
    assert summary["clear"]["ccr_std"] > summary["vague"]["ccr_std"]


def test_video_files_decode_to_the_same_pixels_as_the_frames(tmp_path):
    root = tmp_path / "videos"
    generate_synthiod(root, SynthConfig(**TINY, video_format="avi"))
    ann = strict_load(root / "TrueLeakedGas.pkl")
    video = next(iter(ann["nframes"]))
    capture = cv2.VideoCapture(str(root / "Videos" / f"{video}.avi"))
    decoded = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        decoded.append(frame)
    assert len(decoded) == ann["nframes"][video]
    png = cv2.imread(str(root / "Frames" / video / "00007.png"))
    np.testing.assert_array_equal(decoded[6], png)  # FFV1 is lossless


def test_real_trajectories_reproduce_the_real_boxes(annotations_dir):
    from iodvideo.data.annotations import load_annotations
    from iodvideo.data.synth import plan_dataset
    from iodvideo.data.synth.stats import measure_frames, render_in_memory

    real = load_annotations(annotations_dir / "TrueLeakedGas.pkl")
    config = SynthConfig(trajectories="real", num_videos=12,
                         real_annotations=str(annotations_dir / "TrueLeakedGas.pkl"))
    plan = plan_dataset(config)
    assert [v.name for v in plan.videos][:2] == [
        "TrueLeakedGas/001_wild_static_vague", "TrueLeakedGas/002_experiment_static_clear"]
    for video in plan.videos:
        assert video.nframes == real.nframes[video.name]
        np.testing.assert_array_equal(video.target_boxes, real.tube(video.name))
    for s in range(3):
        assert plan.test[s] == [v for v in real.test_videos[s] if v in set(plan.test[s])]
        assert plan.train[s] and plan.test[s]
    shortest = min(plan.videos, key=lambda v: v.nframes)  # 004_flange_dynamic_clear, 59 frames
    frames, tube = render_in_memory(shortest, config)
    np.testing.assert_array_equal(tube, real.tube(shortest.name))
    stats = measure_frames(shortest.name, frames, tube)
    assert stats.motion_ratio > 1.2 and stats.ccr_std > stats.ccr_frame


def test_cli_stats_and_preview(tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", WANDB_MODE="offline")
    small = [f"{k}={v}" for k, v in TINY.items()]
    done = subprocess.run([sys.executable, "-m", "iodvideo.synth", "stats", *small],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "CCR frame" in done.stdout and "motion" in done.stdout and "width" in done.stdout
    assert "goal" in done.stdout and ("PASS" in done.stdout or "FAIL" in done.stdout)
    out = tmp_path / "pictures"
    done = subprocess.run(
        [sys.executable, "-m", "iodvideo.synth", "preview", f"out={out}", *small],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert any(out.glob("*.png")) and any(out.glob("*.gif"))


def test_a_small_default_like_set_hides_the_gas_and_reveals_it_by_motion():
    """Issue 4's saliency and motion goals on a small set with moving cameras and distractors.

    48 short videos: medians over 24 vague and 24 clear ones. Over 6 of each (12 videos) the
    vague CCR median moved by +-0.05 when a single video's plume changed (0.47 -> 0.52 when
    one of them became a band plume), while over many videos it did not move (96 videos:
    0.33 before bands and stems, 0.29 after)."""
    from iodvideo.data.synth.stats import CCR_GOAL, MOTION_GOAL, measure, summarise

    config = SynthConfig(num_videos=48, min_frames=24, max_frames=24, clear_fraction=0.5)
    summary = summarise(measure(config))
    assert summary["dynamic-vague"]["videos"] >= 3
    for group in ("clear", "vague"):
        assert summary[group]["ccr_frame"] < CCR_GOAL[group], (group, summary[group])
        assert summary[group]["motion_ratio"] >= MOTION_GOAL, (group, summary[group])
    # the 8-frame temporal std shows the box better than one frame does; over all videos, as
    # workers moving beside the leak and compression flicker make it a toss-up for a
    # handful of videos of one kind (6 here)
    assert summary["all"]["ccr_std"] > summary["all"]["ccr_frame"], summary["all"]


def test_box_sizes_and_steps_match_iod_video():
    """Width, height and per-frame centre step percentiles within 25 % of the real ones, and
    the wide-box tail (boxes wider than 2, 2.5, 3 : 1) within 30/30/50 % of IOD-Video's."""
    from iodvideo.data.synth.stats import box_statistics, check_properties, sample_tubes

    tubes = sample_tubes(SynthConfig())
    assert len(tubes) >= 200
    for tube in tubes.values():  # annotation-like: whole pixels
        np.testing.assert_array_equal(tube, np.rint(tube))
    checks = check_properties({}, box_statistics(tubes, 240, 320))
    assert len(checks) == 5
    assert all(c.ok for c in checks), checks


def test_tube_only_path_gives_the_rendered_tube():
    from iodvideo.data.synth.render import video_tube
    from iodvideo.data.synth.stats import render_in_memory

    config = SynthConfig(**TINY, seed=5)
    for video in plan_videos(config)[:3]:
        _, tube = render_in_memory(video, config)
        np.testing.assert_array_equal(video_tube(video, config), tube)


def test_dynamic_cameras_drift_slowly_in_whole_pixels():
    from iodvideo.data.synth.camera import dynamic_path

    for seed in range(20):
        rng = np.random.default_rng(seed)
        path = dynamic_path(rng, 200, 240, 320, 40, 0.06, (0.05, 0.4))
        if np.all(path.scale == 1.0):
            assert path.is_translation
            steps = np.abs(np.diff(path.offset, axis=0))
            assert steps.max() <= 1.0 and steps.mean() < 0.4
        assert np.abs(path.offset - path.offset[0]).max() <= 2 * 0.06 * 320 + 1


def test_the_smallest_frames_the_config_allows_render(tmp_path):
    """SynthConfig accepts 16 px frames; the leak's hardware once got a 0 px line there."""
    pkl = generate_synthiod(
        tmp_path / "s", SynthConfig(num_videos=4, min_frames=4, max_frames=4, height=16, width=16)
    )
    annotations = strict_load(Path(pkl))
    assert len(annotations["nframes"]) == 4
    frames = sorted((tmp_path / "s" / "Frames").rglob("*.png"))
    assert len(frames) == 16 and cv2.imread(str(frames[0])).shape[:2] == (16, 16)
