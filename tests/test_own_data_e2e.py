"""docs/own-data.md's "From labelled videos to a trained model": its five commands, as written, on
a tiny CVAT-labelled fixture of two classes (gas, steam): convert, extract frames, train,
evaluate, predict."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from cli_support import run_module

LABELS = ("gas", "steam")
SIZE, FRAMES = 64, 16
GAS = (6, 8, 26, 30)
STEAM = (36, 34, 58, 58)
# the tiny-model overrides every test training run uses; the docs' command is the rest
TINY = ("data.clip_len=4", "data.input_size=64", "data.batch_size=2", "data.eval_batch_size=8",
        "data.num_workers=0", "model.neck.channels=32", "model.neck.out_channels=16",
        "model.heads.head_conv=32", "model.heads.wh_head_conv=16", "trainer.max_epochs=1",
        "trainer.limit_train_batches=2", "logger=csv")


def _box(frame: int, box: tuple[int, ...], outside: int = 0) -> str:
    x1, y1, x2, y2 = box
    return (f'<box frame="{frame}" outside="{outside}" occluded="0" keyframe="1" '
            f'xtl="{x1}" ytl="{y1}" xbr="{x2}" ybr="{y2}" z_order="0"/>')


def _write_video_and_cvat(videos: Path, ann: Path, name: str, steam: bool) -> None:
    """An .avi with a bright gas patch (and a grey steam patch) and its CVAT 1.1 XML."""
    writer = cv2.VideoWriter(str(videos / f"{name}.avi"), cv2.VideoWriter_fourcc(*"MJPG"),
                             10, (SIZE, SIZE))
    rng = np.random.default_rng(len(name))
    for f in range(FRAMES):
        image = np.full((SIZE, SIZE, 3), 50, np.uint8) + rng.integers(0, 8, (SIZE, SIZE, 1),
                                                                     dtype=np.uint8)
        image[GAS[1]:GAS[3], GAS[0]:GAS[2]] = 200 + (f % 3) * 10
        if steam:
            image[STEAM[1]:STEAM[3], STEAM[0]:STEAM[2]] = 120 + (f % 2) * 20
        writer.write(image)
    writer.release()
    tracks = f'<track id="0" label="gas" source="manual">{_box(0, GAS)}</track>'
    if steam:
        tracks += f'<track id="1" label="steam" source="manual">{_box(0, STEAM)}</track>'
    labels = "".join(f"<label><name>{label}</name></label>" for label in LABELS)
    (ann / f"{name}.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<annotations><version>1.1</version><meta>'
        f"<task><name>{name}</name><size>{FRAMES}</size><original_size><width>{SIZE}</width>"
        f"<height>{SIZE}</height></original_size><labels>{labels}</labels></task></meta>"
        f"{tracks}</annotations>")


def _ok(result) -> str:
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-3000:])
    return result.stdout


@pytest.mark.slow
def test_readme_own_data_commands_run_end_to_end_with_two_classes(tmp_path: Path) -> None:
    root, ann = tmp_path / "data" / "mine", tmp_path / "ann"
    (root / "Videos").mkdir(parents=True)
    ann.mkdir()
    names = [f"cam{i}" for i in range(1, 7)]
    for i, name in enumerate(names):
        _write_video_and_cvat(root / "Videos", ann, name, steam=i % 2 == 0)
    pkl = root / "TrueLeakedGas.pkl"

    # 1. convert (the docs' glob, expanded as the shell would)
    _ok(run_module("iodvideo.data.convert", "--from", "cvat",
                   *sorted(str(p) for p in ann.glob("*.xml")), "-o", str(pkl)))
    from iodvideo.data.annotations import load_annotations

    annotations = load_annotations(pkl)
    assert annotations.labels == list(LABELS) and annotations.num_splits == 3
    assert sum(len(annotations.tubes(v, 1)) for v in names) == 3

    # 2. frames
    _ok(run_module("iodvideo.data.convert", str(root), "--to", "frames"))
    assert len(list((root / "Frames" / "cam1").glob("*.png"))) == FRAMES

    # 3. train
    run = tmp_path / "run"
    _ok(run_module("iodvideo.train", "data=iodvideo", f"data.root={root}", "data.split=1",
                   *TINY, f"hydra.run.dir={run}", timeout=600))
    ckpt = run / "checkpoints" / "last.ckpt"
    saved = torch.load(ckpt, map_location="cpu", weights_only=True)
    assert saved["iodvideo_config"]["labels"] == list(LABELS)
    assert saved["iodvideo_config"]["model"]["heads"]["num_classes"] == 2

    # 4. evaluate: the mean over classes and each class's own AP
    out = _ok(run_module("iodvideo.eval", f"ckpt={ckpt}", "data=iodvideo", f"data.root={root}",
                         f"hydra.run.dir={tmp_path / 'eval'}", timeout=600))
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    row = metrics["metrics"]["split 1"]
    assert metrics["labels"] == list(LABELS)
    for label in LABELS:
        assert 0.0 <= row[f"AP@0.5/{label}"] <= 100.0
    assert row["AP@0.5"] == pytest.approx((row["AP@0.5/gas"] + row["AP@0.5/steam"]) / 2)
    assert "| split | gas | steam |" in out

    # 5. predict: every box and track names its class
    pred = tmp_path / "pred"
    _ok(run_module("iodvideo.predict", f"ckpt={ckpt}", f"input={root / 'Videos' / 'cam1.avi'}",
                   f"gt={pkl}", "coco_results=true", f"hydra.run.dir={pred}", timeout=600))
    with open(pred / "detections.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and {r["label"] for r in rows} <= set(LABELS)
    coco = json.loads((pred / "detections.coco.json").read_text())
    assert {d["category_id"] for d in coco} <= {1, 2}
    assert {f"AP@0.5/{label}" for label in LABELS} <= set(
        json.loads((pred / "metrics.json").read_text()))
