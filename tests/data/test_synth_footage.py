"""Plumes composited onto the user's own footage (``backgrounds=``): exact background pixels
outside the plume, the plume's boxes, crop and frame range, determinism, one-line errors."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from iodvideo.data.synth import SynthConfig, generate_synthiod, plan_videos
from iodvideo.data.synth.render import render_video, video_tube
from iodvideo.errors import ConfigError

FOOTAGE_HW = (60, 80)  # the footage's own frames
CROP = [5, 7, 69, 55]  # 64 x 48: exactly the SynthIOD frame size, used pixel for pixel
FRAMES = 20


@pytest.fixture(scope="module")
def footage(tmp_path_factory) -> tuple[Path, np.ndarray]:
    """A folder of 20 PNG frames, each its own random texture (so a frame can be identified)."""
    folder = tmp_path_factory.mktemp("footage") / "camera"
    folder.mkdir()
    rng = np.random.default_rng(0)
    frames = rng.integers(20, 236, size=(FRAMES, *FOOTAGE_HW), dtype=np.uint8)
    frames = np.stack([cv2.GaussianBlur(f, (0, 0), 1.0) for f in frames])
    for i, frame in enumerate(frames, start=1):
        cv2.imwrite(str(folder / f"{i:05d}.png"), frame)
    return folder, frames


def config_for(folder: Path, **overrides) -> SynthConfig:
    base = dict(num_videos=4, min_frames=12, max_frames=12, height=48, width=64, seed=4,
                backgrounds=str(folder), backgrounds_crop=CROP)
    return SynthConfig(**{**base, **overrides})


def render(plan, config) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    frames, gas = [], []
    tube = render_video(plan, config, lambda _n, grey: frames.append(grey.copy()),
                        gas_sink=lambda _n, g: gas.append(g.copy()))
    return np.stack(frames), np.stack(gas), tube


def source_frame(out: np.ndarray, gas: np.ndarray, crops: np.ndarray) -> int:
    """Index of the footage crop that ``out`` shows wherever the gas adds < 0.5 grey levels."""
    outside = np.abs(gas) < 0.5
    matches = [i for i, crop in enumerate(crops) if np.array_equal(out[outside], crop[outside])]
    assert len(matches) == 1, matches
    return matches[0]


def test_only_the_plume_changes_the_footage(footage):
    """frame == clip(rint(footage + gas)) exactly: every pixel where the plume adds less than
    half a grey level is the footage's own, and the footage plays forwards (or back)."""
    folder, frames = footage
    x1, y1, x2, y2 = CROP
    crops = frames[:, y1:y2, x1:x2]
    config = config_for(folder)
    changed = 0
    for plan in plan_videos(config):
        assert not plan.dynamic  # the user's camera: no synthetic camera motion
        out, gas, _ = render(plan, config)
        used = [source_frame(o, g, crops) for o, g in zip(out, gas, strict=True)]
        steps = np.diff(used)
        assert set(np.abs(steps).tolist()) <= {1}, used  # consecutive frames, bouncing at ends
        for o, g, i in zip(out, gas, used, strict=True):
            expected = np.clip(np.rint(crops[i].astype(np.float32) + g), 0, 255)
            np.testing.assert_array_equal(o, expected.astype(np.uint8))
        changed += int((out != crops[used]).sum())
    assert changed > 0  # there is a plume


def test_boxes_are_the_plume_boxes(footage):
    """The tube is the one the same plume gets on a synthetic scene (no effects that move the
    picture), needs no footage to compute, and holds the bulk of the gas."""
    folder, _ = footage
    config = config_for(folder)
    synthetic = replace(config, backgrounds="", backgrounds_crop=(), shake=0.0, letterbox=0.0)
    for plan in plan_videos(config):
        _, gas, tube = render(plan, config)
        np.testing.assert_array_equal(tube, video_tube(plan, config))
        np.testing.assert_array_equal(tube, video_tube(plan, synthetic))
        inside = np.zeros_like(gas, dtype=bool)
        for t, (x1, y1, x2, y2) in enumerate(tube[:, 1:].astype(int)):
            inside[t, y1:y2 + 1, x1:x2 + 1] = True
        amount = np.abs(gas)
        assert amount[inside].sum() > 0.5 * amount.sum(), plan.name


def test_frame_range_restricts_the_footage(footage):
    folder, frames = footage
    x1, y1, x2, y2 = CROP
    crops = frames[:, y1:y2, x1:x2]
    for spec, allowed in (([3, 6], {2, 3, 4, 5}), ([0.5, 1.0], set(range(10, 20)))):
        config = config_for(folder, backgrounds_frames=spec, num_videos=3)
        for plan in plan_videos(config):
            out, gas, _ = render(plan, config)
            used = {source_frame(o, g, crops) for o, g in zip(out, gas, strict=True)}
            assert used <= allowed, (spec, used)


def test_cover_and_stretch_fit_the_footage_to_the_frame(footage):
    folder, _ = footage
    for fit in ("cover", "stretch"):
        config = SynthConfig(num_videos=3, min_frames=6, max_frames=6, height=40, width=40,
                             backgrounds=str(folder), backgrounds_fit=fit)
        from iodvideo.data.synth.stats import render_in_memory

        frames, tube = render_in_memory(plan_videos(config)[0], config)
        assert frames.shape == (6, 40, 40) and frames.std() > 10  # footage texture, not blank
        assert (tube[:, 3] <= 39).all() and (tube[:, 4] <= 39).all()


def test_a_video_file_works_and_generation_is_deterministic(footage, tmp_path):
    folder, frames = footage
    video = tmp_path / "plant.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"FFV1"), 25.0,
                             FOOTAGE_HW[::-1])
    assert writer.isOpened()
    for frame in frames:
        writer.write(cv2.merge([frame, frame, frame]))
    writer.release()
    config = config_for(video, num_videos=3)
    first = generate_synthiod(tmp_path / "a", config)
    generate_synthiod(tmp_path / "b", config)
    generate_synthiod(tmp_path / "c", replace(config, seed=5))

    def tree(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
                if p.is_file()}

    assert tree(tmp_path / "a") == tree(tmp_path / "b")
    assert tree(tmp_path / "a") != tree(tmp_path / "c")
    # the video file decodes to the same frames as the folder: same composite
    from_folder = tmp_path / "d"
    generate_synthiod(from_folder, config_for(folder, num_videos=3))
    assert {k: v for k, v in tree(tmp_path / "a").items() if k.endswith(".png")} == {
        k: v for k, v in tree(from_folder).items() if k.endswith(".png")}
    assert first.is_file()


def test_online_clips_render_over_the_footage(footage):
    from iodvideo.data.synth.online import OnlineSynthClips
    from iodvideo.data.transforms import ResizeNormalize

    folder, _ = footage
    data = OnlineSynthClips(config_for(folder), 2, ResizeNormalize(32, 4), clip_len=4)
    torch.manual_seed(0)
    item = data[0]
    assert item["video"].shape == (4, 3, 32, 32) and item["mask"][0] == 1


def one_line(err: pytest.ExceptionInfo, name: str) -> None:
    message = str(err.value)
    assert "\n" not in message and name in message, message


def test_bad_footage_is_refused_in_one_line(footage, tmp_path):
    from iodvideo.data.synth.footage import check_backgrounds
    from iodvideo.data.synth.online import OnlineSynthClips
    from iodvideo.data.transforms import ResizeNormalize

    folder, _ = footage
    with pytest.raises(ConfigError) as err:
        config_for(tmp_path / "missing.mp4")
    one_line(err, "missing.mp4")
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no footage here")
    broken = tmp_path / "broken.avi"
    broken.write_bytes(b"not a video at all" * 100)
    for path in (empty, broken):
        with pytest.raises(ConfigError) as err:
            generate_synthiod(tmp_path / "out", config_for(path, backgrounds_crop=[]))
        one_line(err, path.name)
        assert not (tmp_path / "out").exists()
        with pytest.raises(ConfigError) as err:
            OnlineSynthClips(config_for(path, backgrounds_crop=[]), 2, ResizeNormalize(32, 4), 4)
        one_line(err, path.name)
    with pytest.raises(ConfigError) as err:  # the crop must lie inside the footage
        check_backgrounds(config_for(folder, backgrounds_crop=[0, 0, 81, 48]))
    one_line(err, "camera")
    with pytest.raises(ConfigError) as err:  # the range must start inside the footage
        video_plan = plan_videos(config_for(folder, backgrounds_frames=[21, 30]))[0]
        render_video(video_plan, config_for(folder, backgrounds_frames=[21, 30]),
                     lambda *_: None)
    one_line(err, "camera")
    with pytest.raises(ConfigError, match="backgrounds_crop"):
        SynthConfig(backgrounds_crop=[0, 0, 10, 10])  # a crop without footage
