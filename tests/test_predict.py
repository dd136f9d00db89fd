"""Offline prediction: outputs, evaluator-exact merging, short videos, bad input."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from cli_support import VIDEO, base_config, run_module
from iodvideo.data.clips import clip_frames
from iodvideo.detections.merge import clips_to_frame_detections
from iodvideo.errors import ConfigError, FrameReadError, IODVideoError
from iodvideo.inference.stream.offline import predict_video
from iodvideo.inference.stream.runner import ClipRunner, clip_starts
from iodvideo.inference.stream.sources import open_source
from iodvideo.predict import video_key


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_predict_cli_writes_every_output(resnet_ckpt: Path, plume_root: Path, plume_video: Path,
                                         work: Path) -> None:
    out = work / "pred_cli"
    proc = run_module("iodvideo.predict", f"ckpt={resnet_ckpt}", f"input={plume_video}",
                      f"gt={plume_root / 'TrueLeakedGas.pkl'}", "progress=false",
                      "link.min_length=3", "link.min_score=0", "coco_results=true",
                      f"hydra.run.dir={out}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    n, height, width = 40, 64, 80
    rows = _csv(out / "detections.csv")
    assert [int(r["frame"]) for r in rows] == list(range(1, n + 1))  # one row per frame
    for r in rows:
        assert 0 <= float(r["x1"]) <= width - 1 and 0 <= float(r["x2"]) <= width - 1
        assert 0 <= float(r["y1"]) <= height - 1 and 0 <= float(r["y2"]) <= height - 1
        assert 0 <= float(r["score"]) <= 1
    lines = [json.loads(x) for x in (out / "detections.jsonl").read_text().splitlines()]
    assert [x["frame"] for x in lines] == list(range(1, n + 1))
    assert all(len(x["detections"]) == 1 for x in lines)
    tracks = _csv(out / "tracks.csv")
    assert tracks, "min_length=3 on 40 frames links at least one tube"
    assert {int(r["track"]) for r in rows} <= {0} | {int(t["track"]) for t in tracks}
    name = plume_video.stem
    capture = cv2.VideoCapture(str(out / f"{name}.mp4"))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == n
    assert int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)) == 2 * width  # + difference panel
    capture.release()
    from PIL import Image

    with Image.open(out / f"{name}.gif") as gif:
        assert gif.n_frames == n
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["video"] == VIDEO and 0 <= metrics["AP@0.5"] <= 100
    assert "AP@0.5" in proc.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["frames"] == n and summary["backbone"] == "resnet"
    # COCO results: by default the boxes frameAP scores, the best 100 of each frame
    coco = json.loads((out / "detections.coco.json").read_text())
    assert summary["coco_image_ids"].endswith(f"video {VIDEO}")
    assert summary["coco_boxes"] == "scored" and n < len(coco) <= 100 * n
    from iodvideo.data.annotations import load_annotations
    from iodvideo.data.formats.coco import coco_from_annotations

    doc = coco_from_annotations(load_annotations(plume_root / "TrueLeakedGas.pkl"))
    vid = next(v["id"] for v in doc["videos"] if v["name"] == VIDEO)
    ids = {i["frame_id"] + 1: i["id"] for i in doc["images"] if i["video_id"] == vid}
    assert {c["image_id"] for c in coco} == {ids[int(r["frame"])] for r in rows}


def test_merging_equals_evaluation(resnet_ckpt: Path, plume_root: Path) -> None:
    """Incremental per-frame merging == the evaluator's merge of every clip at once, for a
    frame folder read once in order (batches of 3 clips to cross batch boundaries)."""
    runner = ClipRunner.from_checkpoint(resnet_ckpt, "cpu")
    folder = plume_root / "Frames" / VIDEO
    source = open_source(folder)
    pred = predict_video(runner, source, batch_size=3, keep_all=True)
    frames = np.stack(list(source))
    k = runner.clip_len
    clips = {}
    for start in clip_starts(len(frames), k):
        index = [f - 1 for f in clip_frames(start, k, len(frames)).tolist()]
        clip = runner.preprocess(frames[index])[None]
        clips[start] = runner(clip, frames.shape[1:3])[0]
    expected = clips_to_frame_detections(clips, k)
    assert pred.merged is not None and pred.merged.shape == expected.shape
    np.testing.assert_allclose(pred.merged, expected, rtol=0, atol=1e-4)
    assert np.array_equal(pred.merged[:, 0], expected[:, 0])


def test_stride_covers_every_frame() -> None:
    assert clip_starts(10, 4, 1) == list(range(1, 8))
    assert clip_starts(10, 4, 3) == [1, 4, 7]
    assert clip_starts(11, 4, 3) == [1, 4, 7, 8]
    assert clip_starts(2, 4, 1) == [1]
    assert clip_frames(1, 4, 10, context=2).tolist() == [1, 1, 1, 2, 3, 4, 5, 6]


def test_short_video_is_padded(resnet_ckpt: Path, plume_root: Path, work: Path) -> None:
    folder = work / "short"
    folder.mkdir()
    for i in (1, 2):
        src = plume_root / "Frames" / VIDEO / f"{i:05d}.png"
        (folder / f"frame{i}.png").write_bytes(src.read_bytes())
    from iodvideo.predict import predict

    cfg = base_config("predict", work / "pred_short", ckpt=str(resnet_ckpt),
                      input=str(folder / "*.png"), progress=False)
    with pytest.warns(UserWarning, match="padded by repeating the last frame"):
        (summary,) = predict(cfg)
    assert summary["padded"] and summary["frames"] == 2
    rows = _csv(work / "pred_short" / "detections.csv")
    assert [int(r["frame"]) for r in rows] == [1, 2]


def test_bad_inputs_give_clear_errors(resnet_ckpt: Path, work: Path, tmp_path: Path) -> None:
    from iodvideo.predict import predict

    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.avi"
    garbage.write_bytes(b"not a video" * 100)
    for bad, error in [(empty, FrameReadError), (garbage, FrameReadError),
                       (tmp_path / "missing.mp4", ConfigError), (tmp_path, FrameReadError)]:
        cfg = base_config("predict", tmp_path / "out", ckpt=str(resnet_ckpt), input=str(bad),
                          progress=False)
        with pytest.raises(error) as info:
            predict(cfg)
        assert str(bad) in str(info.value)
    other = tmp_path / "other.ckpt"
    torch.save({"state_dict": {"encoder.weight": torch.zeros(1)}}, other)
    cfg = base_config("predict", tmp_path / "out", ckpt=str(other), input=str(empty))
    with pytest.raises(IODVideoError, match="no training config"):
        predict(cfg)
    proc = run_module("iodvideo.predict", f"ckpt={other}", f"input={empty}",
                      f"hydra.run.dir={tmp_path / 'cli'}")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1].startswith("error: ")


def test_video_key_is_found_from_a_bare_file_name() -> None:
    keys = {"TrueLeakedGas/001_wild_static_vague", "TrueLeakedGas/002_wild_static_clear",
            "Other/002_wild_static_clear"}
    assert video_key("/clips/001_wild_static_vague.avi", keys, None) == (
        "TrueLeakedGas/001_wild_static_vague")
    assert video_key("002_wild_static_clear.mp4", keys, None) is None  # two keys end so
    assert video_key("x/TrueLeakedGas/002_wild_static_clear.mp4", keys, None) == (
        "TrueLeakedGas/002_wild_static_clear")
    assert video_key("clip.avi", keys, "TrueLeakedGas/001_wild_static_vague") == (
        "TrueLeakedGas/001_wild_static_vague")
    assert video_key("unknown.avi", keys, None) is None


def test_coco_results_number_images_like_the_coco_export(tmp_path: Path) -> None:
    """Detections as COCO results: image ids as ``convert --to coco`` numbers the video's
    frames (videos in pickle order, every frame an image), else the frame number."""
    import pickle

    from iodvideo.data.annotations import load_annotations
    from iodvideo.data.formats.coco import coco_from_annotations
    from iodvideo.inference.stream.coco import write_coco_results
    from iodvideo.inference.stream.offline import VideoPrediction

    tube = np.array([[f, 1, 1, 9, 9] for f in range(1, 6)], np.float32)
    raw = {"labels": ["gas"], "nframes": {"a": 3, "b": 5},
           "resolution": {"a": (24, 32), "b": (24, 32)}, "train_videos": [["a"]],
           "test_videos": [["b"]], "gttubes": {"a": {0: [tube[:3]]}, "b": {0: [tube]}}}
    (tmp_path / "ann.pkl").write_bytes(pickle.dumps(raw, protocol=4))
    ann = load_annotations(tmp_path / "ann.pkl")
    shown = np.array([[2, 1.5, 2.0, 11.25, 12.0, 0.8], [5, 0.0, 1.0, 4.0, 3.0, 0.25]])
    pred = VideoPrediction("b", 5, (24, 32), 25.0, shown, np.zeros(2, np.int64))
    assert write_coco_results(tmp_path, pred, (ann, "b"), "shown").endswith("video b")
    results = json.loads((tmp_path / "detections.coco.json").read_text())
    images = coco_from_annotations(ann)["images"]
    expected = [next(i["id"] for i in images if i["file_name"] == f"b/{f:05d}.png")
                for f in (2, 5)]
    assert [r["image_id"] for r in results] == expected == [5, 8]  # video a holds images 1-3
    assert results[0] == {"image_id": 5, "category_id": 1, "bbox": [1.5, 2.0, 9.75, 10.0],
                          "score": 0.8}
    assert write_coco_results(tmp_path, pred, None, "shown") == "frame number"
    results = json.loads((tmp_path / "detections.coco.json").read_text())
    assert [r["image_id"] for r in results] == [2, 5]


def test_outputs_name_each_box_and_track_class_for_several_classes(tmp_path: Path) -> None:
    """A two-class prediction: detections.csv/.jsonl and tracks.csv carry the class name,
    COCO results the class index + 1; a single-class prediction says its one class."""
    from iodvideo.detections.linking import Tube
    from iodvideo.inference.stream.coco import coco_results
    from iodvideo.inference.stream.offline import VideoPrediction
    from iodvideo.predict import write_detections

    shown = np.array([[1, 0, 0, 4, 4, 0.9], [1, 5, 5, 9, 9, 0.7], [2, 0, 0, 4, 4, 0.6]])
    tubes = [Tube(np.array([[1, 5, 5, 9, 9]], np.float64), 0.7)]
    pred = VideoPrediction("v", 2, (10, 10), 5.0, shown, np.array([0, 1, 0]), tubes,
                           shown_labels=np.array([0, 1, 0]), tube_labels=[1],
                           class_names=["gas", "steam"])
    write_detections(tmp_path, pred)
    with open(tmp_path / "detections.csv") as handle:
        assert [r["label"] for r in csv.DictReader(handle)] == ["gas", "steam", "gas"]
    first = json.loads((tmp_path / "detections.jsonl").read_text().splitlines()[0])
    assert [d["label"] for d in first["detections"]] == ["gas", "steam"]
    with open(tmp_path / "tracks.csv") as handle:
        assert [r["label"] for r in csv.DictReader(handle)] == ["steam"]
    assert [r["category_id"] for r in coco_results(pred, boxes="shown")] == [1, 2, 1]
    single = VideoPrediction("v", 2, (10, 10), 5.0, shown, np.zeros(3, np.int64))
    assert [r["category_id"] for r in coco_results(single, boxes="shown")] == [1, 1, 1]
    # the scored boxes: every merged row, rescored class by class (two overlapping boxes of
    # different classes do not rescore each other), category = class + 1
    merged = np.array([[1, 0, 0, 4, 4, 0.9], [1, 0, 0, 4, 5, 0.8], [1, 0, 0, 4, 4, 0.7]])
    pred.merged, pred.merged_labels = merged, np.array([0, 0, 1])
    scored = coco_results(pred)
    assert [(r["category_id"], r["score"]) for r in scored] == [
        (1, 0.9), (2, 0.7), (1, pytest.approx(0.8 * (1 - 25 / 30)))]
    write_detections(tmp_path, single)
    with open(tmp_path / "detections.csv") as handle:
        assert {r["label"] for r in csv.DictReader(handle)} == {"gas"}


@pytest.mark.parametrize(("key", "value", "message"), [
    ("render.gif_max_frames", -1, r"render\.gif_max_frames must be .* >= 0 \(0 = no limit\)"),
    ("render.gif_width", -5, r"render\.gif_width must be an integer >= 0"),
    ("render.gif_max_frames", 1.5, r"render\.gif_max_frames must be an integer"),
    ("render.diff_gain", -1.0, r"render\.diff_gain must be a number >= 0"),
    ("fps", 0, r"fps must be a number > 0"),
    ("stride", 0, r"stride must be an integer >= 1"),
    ("batch_size", 0, r"batch_size must be an integer >= 1"),
    ("keep_per_frame", -1, r"keep_per_frame must be an integer >= 1"),
    ("decode.top_n", 0, r"decode\.top_n must be an integer >= 1"),
    ("link.nms_iou", 1.5, r"link\.nms_iou must be a number >= 0 and <= 1"),
    ("coco_boxes", "all", r"coco_boxes must be one of scored, shown"),
    ("coco_max_per_frame", -1, r"coco_max_per_frame must be an integer >= 0"),
])
def test_bad_options_are_refused_in_one_line_before_any_work(tmp_path: Path, key: str,
                                                             value: object, message: str) -> None:
    """`render.gif_max_frames=0` used to end in a ZeroDivisionError once the whole video had
    been run; now every numeric option is checked first (the checkpoint does not even exist
    here: the option is what gets reported)."""
    from omegaconf import OmegaConf

    from iodvideo.predict import predict

    cfg = base_config("predict", tmp_path / "out", ckpt=str(tmp_path / "missing.ckpt"),
                      input=str(tmp_path), progress=False)
    OmegaConf.update(cfg, key, value, merge=False)
    with pytest.raises(ConfigError, match=message) as info:
        predict(cfg)
    assert "\n" not in str(info.value)


def test_zero_gif_limits_mean_no_limit(tmp_path: Path) -> None:
    """render.gif_max_frames=0 keeps every frame, render.gif_width=0 the full width; a limit
    keeps every n-th frame so that at most that many remain."""
    from omegaconf import OmegaConf
    from PIL import Image

    from iodvideo.inference.stream.offline import VideoPrediction
    from iodvideo.inference.stream.render import PreviewWriter, gif_stride
    from iodvideo.predict import render_video

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(1, 8):
        cv2.imwrite(str(frames / f"{i:03d}.png"), np.full((24, 400, 3), 20 * i, np.uint8))
    shown = np.array([[f, 2, 2, 10, 10, 0.5] for f in range(1, 8)])
    pred = VideoPrediction("frames", 7, (24, 400), 25.0, shown, np.zeros(7, np.int64))
    render = OmegaConf.load(Path(__file__).parents[1] / "conf" / "predict.yaml").render
    for limit, width, count, gif_width in [(0, 0, 7, 800), (3, 320, 3, 320), (0, 100, 7, 100)]:
        render.gif_max_frames, render.gif_width, render.mp4 = limit, width, False
        (gif,) = render_video(open_source(str(frames)), pred, tmp_path / f"out{limit}_{width}",
                              render)
        with Image.open(gif) as image:
            assert (image.n_frames, image.width) == (count, gif_width)
    assert gif_stride(7, 0) == 1 and gif_stride(7, 3) == 3 and gif_stride(7, 10) == 1
    with pytest.raises(ConfigError, match="gif_max_frames must be an integer >= 0"):
        PreviewWriter(None, tmp_path / "x.gif", 25.0, gif_max_frames=-1)
    with pytest.raises(ConfigError, match="frame rate must be > 0"):
        PreviewWriter(None, tmp_path / "x.gif", -25.0)


@pytest.mark.slow
def test_help_lists_the_options_not_the_training_config_groups() -> None:
    """`--help` used to offer every config group of conf/ (backbone, data, trainer, ...) as
    ways to compose predict's configuration; predict reads none of them."""
    proc = run_module("iodvideo.predict", "--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "Configuration groups" not in proc.stdout and "trainer:" not in proc.stdout
    assert "gif_max_frames: 150" in proc.stdout and "coco_boxes: scored" in proc.stdout
