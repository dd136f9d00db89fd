"""Diagnose: a hand-built detector whose top box is exactly the GT box (IoU 1, inside 100 %),
the false-positive categories on synthetic frames (letterbox bar, text block, moving bright
blob), the scene rules one by one, the CLI's outputs on a tiny model, and bad input."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from cli_support import VIDEO, base_config
from iodvideo.detections.iou import iou_plus1
from iodvideo.diagnose import diagnose, main
from iodvideo.errors import ConfigError
from iodvideo.inference.diagnose import (
    DiagnoseSettings,
    GroundTruth,
    diagnose_video,
    write_summary,
)
from iodvideo.inference.diagnose_scene import (
    LABELS,
    SceneStats,
    box_label,
    frame_labels,
    moving_warm,
)
from iodvideo.inference.diagnose_stats import aspect_ceiling, localisation, match, oracles
from iodvideo.inference.stream.runner import ClipRunner

H, W, T = 120, 160, 40  # synthetic video; model input 32 → 8×8 grid, cells 20 × 15 px
GT_BOX = (60.0, 45.0, 100.0, 75.0)  # the box the stub decodes at cell (4, 4), size 2 × 2 cells
BLOB_Y, BLOB_X0, BLOB_SPEED = 30, 45, 3  # a warm disc crossing cell (6, 2) = (120, 30)


class StubDetector(torch.nn.Module):
    """Fixed heatmap peaks (grid x, y, logit, w, h in cells) in every clip, no movement."""

    clip_len, context_frames, frames_per_clip = 4, 0, 4

    def __init__(self, peaks: list[tuple[int, int, float, float, float]]) -> None:
        super().__init__()
        self.peaks = peaks

    def forward(self, clips: torch.Tensor) -> dict[str, torch.Tensor]:
        batch, size = clips.shape[0], clips.shape[-1] // 4
        hm = torch.full((batch, 1, size, size), -12.0)
        wh = torch.zeros((batch, 2 * self.clip_len, size, size))
        for x, y, logit, w, h in self.peaks:
            hm[:, 0, y, x] = logit
            wh[:, 0::2, y, x], wh[:, 1::2, y, x] = w, h
        return {"hm": hm, "wh": wh, "mov": torch.zeros_like(wh)}


PEAKS = [(4, 4, 4.0, 2.0, 2.0),   # the GT box
         (2, 0, 3.0, 1.0, 1.0),   # on the letterbox bar (rows 0..11)
         (2, 7, 2.0, 1.0, 1.0),   # on the burnt-in text (about x 4..70, y 98..112)
         (6, 2, 1.0, 1.0, 1.0)]   # where the warm blob passes


def blob_x(frame: int) -> int:
    return BLOB_X0 + BLOB_SPEED * (frame - 1)


def synthetic_frames(count: int = T) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:H, 0:W]
    base = 70 + 20 * np.sin(xx / 9.0) * np.cos(yy / 13.0)  # a static scene
    frames = []
    for t in range(1, count + 1):
        grey = base + rng.normal(0, 1.0, base.shape)
        grey[:12] = 0  # letterbox bar
        cv2.circle(grey, (blob_x(t), BLOB_Y), 6, 220, -1)
        frame = np.clip(grey, 0, 255).astype(np.uint8)
        cv2.rectangle(frame, (2, 96), (72, 114), 20, -1)
        cv2.putText(frame, "12:34 CAM", (5, 110), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 250, 1)
        frames.append(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    return frames


@pytest.fixture(scope="module")
def synthetic_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("diagnose") / "scene"
    folder.mkdir()
    for t, frame in enumerate(synthetic_frames(), start=1):
        cv2.imwrite(str(folder / f"{t:05d}.png"), frame)
    return folder


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path) as handle:
        return list(csv.DictReader(handle))


def test_top_box_equal_to_the_gt_box_and_what_the_fps_sit_on(synthetic_video: Path,
                                                              tmp_path: Path) -> None:
    runner = ClipRunner(StubDetector(PEAKS), input_size=32)
    gt = GroundTruth("scene", np.array([[f, *GT_BOX] for f in range(1, T + 1)], np.float32), T)
    out = tmp_path / "run"
    d = diagnose_video(runner, str(synthetic_video), gt, out, DiagnoseSettings(top_k=5))
    loc = d.summary["localisation"]
    assert loc["frames_with_gt"] == T
    assert loc["top1_centre_in_gt_pct"] == 100.0 and loc["top1_iou_ge_threshold_pct"] == 100.0
    assert loc["top1_iou_mean"] == 1.0 and loc["topk_best_iou_mean"] == 1.0
    assert d.summary["heatmap"]["peak_in_gt_pct"] == 100.0
    assert d.summary["sizes"]["top1"] == {"w": 40.0, "h": 30.0, "aspect_w_h": 1.333}
    rows = _csv(out / "topk.csv")
    assert len(rows) == 5 * T and {r["rank"] for r in rows} == {"1", "2", "3", "4", "5"}

    def at(cx: float, cy: float) -> list[dict[str, str]]:
        return [r for r in rows if abs((float(r["x1"]) + float(r["x2"])) / 2 - cx) < 1
                and abs((float(r["y1"]) + float(r["y2"])) / 2 - cy) < 1]

    assert {r["category"] for r in at(80, 60)} == {"tp"}
    assert {r["category"] for r in at(40, 3.75)} == {"letterbox"}  # y clipped at 0: 0..7.5
    assert {r["category"] for r in at(40, 105)} == {"text"}
    blob = {int(r["frame"]): r["category"] for r in at(120, 30)}
    passing = min(blob, key=lambda f: abs(blob_x(f) - 120))
    assert blob[passing] == "moving_warm"
    assert "moving_warm" not in {c for f, c in blob.items() if abs(blob_x(f) - 120) > 20}
    shares = d.summary["false_positives"]["shares"]
    assert abs(sum(shares.values()) - 1) < 1e-3 and shares["letterbox"] > shares["text"] > 0
    for name in ("frames.csv", "heatmap_mean.png", "fp_categories.png", "sizes.png"):
        assert (out / name).stat().st_size > 0
    assert sorted(p.name for p in (out / "overlays").iterdir())  # a few chosen frames
    panel = cv2.imread(str(next((out / "overlays").iterdir())))
    assert panel.shape == (H, 2 * W, 3)


def test_without_gt_every_box_is_a_false_positive(synthetic_video: Path, tmp_path: Path):
    runner = ClipRunner(StubDetector(PEAKS), input_size=32)
    d = diagnose_video(runner, str(synthetic_video), None, tmp_path, DiagnoseSettings(top_k=2))
    write_summary(tmp_path, d.summary)
    summary = json.loads((tmp_path / "summary.json").read_text(),
                         parse_constant=lambda c: pytest.fail(f"{c} in summary.json"))
    assert summary["localisation"]["top1_iou_mean"] is None
    assert summary["false_positives"]["count"] == 2 * T
    assert summary["false_positives"]["shares"]["gt_box"] == 0.0


def test_scene_rules_label_bar_text_sky_edges_and_vegetation() -> None:
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:H, 0:W]
    stats = SceneStats()
    for t in range(30):
        grey = np.full((H, W), 60.0) + rng.normal(0, 1.0, (H, W))
        grey[H - 10:] = 3  # bottom letterbox bar
        grey[:35] = 30 + rng.normal(0, 0.5, (35, W))  # smooth, cold sky
        grey[60:H - 10, 20:23] = 160  # a static pole: an edge
        sway = int(round(2 * np.sin(t)))  # a textured bush swaying a few pixels
        bush = 90 + 40 * ((xx // 8 + yy // 8) % 2)
        grey[60:100, 100 + sway:140 + sway] = bush[60:100, 100:140]
        frame = np.clip(grey, 0, 255).astype(np.uint8)
        cv2.putText(frame, "REC 01", (40, 55), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 255, 1)
        stats.add(frame)
    maps = stats.finish()

    def label(box: tuple[float, float, float, float]) -> str:
        return box_label(maps.labels, np.array(box))

    assert label((30, H - 8, 60, H - 1)) == "letterbox"
    assert label((40, 44, 90, 56)) == "text"
    assert label((60, 0, 100, 30)) == "sky"
    assert label((17, 70, 26, 90)) == "edges"
    assert label((105, 65, 135, 95)) == "vegetation"
    assert label((60, 65, 90, 95)) == "other"
    still = frame_labels(maps, moving_warm(frame, frame, maps))
    assert LABELS.index("moving_warm") not in still  # nothing moved


def test_match_and_rates_by_hand() -> None:
    gt = {1: np.array([[10.0, 10, 30, 30]]), 2: np.array([[10.0, 10, 30, 30]])}
    rows = np.array([[1, 1, 10, 10, 30, 30, 0.9],    # the GT box
                     [1, 2, 50, 50, 60, 60, 0.5],    # elsewhere
                     [2, 1, 15, 15, 20, 20, 0.8],    # inside, small
                     [2, 2, 10, 10, 29, 30, 0.2],    # almost the GT box
                     [3, 1, 0, 0, 5, 5, 0.3]])       # a frame without GT
    iou, inside = match(rows, gt)
    assert iou[0] == 1.0 and iou[1] == 0.0 and iou[4] == 0.0
    assert iou[3] == pytest.approx(float(iou_plus1(rows[3, 2:6], gt[2])[0]))
    assert inside.tolist() == [True, False, True, True, False]
    loc = localisation(rows, iou, inside, [1, 2], 0.5)
    assert loc["top1_centre_in_gt_pct"] == 100.0 and loc["top1_iou_ge_threshold_pct"] == 50.0
    assert loc["topk_best_iou_ge_threshold_pct"] == 100.0
    half = oracles(rows, gt, 0.5)  # frame 2's small box: right place, wrong size
    assert half["top1_with_gt_size_iou_ge_threshold_pct"] == 100.0
    assert half["top1_at_gt_centre_iou_ge_threshold_pct"] == 50.0
    assert aspect_ceiling(np.array([0.0, 0, 100, 25]), 4.0) > 0.95  # its own aspect: ~1
    wide = np.array([0.0, 0, 222, 56])  # 223 x 57 (+1 convention): a 1.33:1 box stays < 0.5
    assert 0.35 < aspect_ceiling(wide, 4 / 3) < 0.45


def test_cli_outputs_are_consistent(tsm_ckpt: Path, plume_root: Path, plume_video: Path,
                                    tmp_path: Path) -> None:
    out = tmp_path / "diag"
    cfg = base_config("diagnose", out, ckpt=str(tsm_ckpt), input=str(plume_video),
                      gt=str(plume_root / "TrueLeakedGas.pkl"), progress=False, top_k=3,
                      reference_gt=str(plume_root / "TrueLeakedGas.pkl"))
    summary = diagnose(cfg)
    assert summary["video"] == VIDEO and summary["frames"] == 40
    assert 0 <= summary["metrics"]["AP@0.5"] <= 100
    frames = _csv(out / "frames.csv")
    assert [int(r["frame"]) for r in frames] == list(range(1, 41))
    inside = np.mean([int(r["top1_centre_in_gt"]) for r in frames])
    assert summary["localisation"]["top1_centre_in_gt_pct"] == pytest.approx(100 * inside,
                                                                              abs=0.01)
    rows = _csv(out / "topk.csv")
    assert len(rows) == 3 * 40
    gt = {int(r["frame"]): np.array([float(r[f"gt_{k}"]) for k in ("x1", "y1", "x2", "y2")])
          for r in frames}
    for r in rows:
        box = np.array([float(r[k]) for k in ("x1", "y1", "x2", "y2")])
        assert float(r["iou"]) == pytest.approx(float(iou_plus1(box, gt[int(r["frame"])])[0]),
                                                abs=0.01)
        assert r["category"] == ("tp" if float(r["iou"]) >= 0.5 else r["category"])
    shares = _csv(out / "fp_categories.csv")
    assert sum(float(r["score_share"]) for r in shares) == pytest.approx(1.0, abs=1e-3)
    written = json.loads((out / "summary.json").read_text())
    assert set(written["outputs"]) >= {"topk.csv", "frames.csv", "fp_categories.csv",
                                       "heatmap_mean.png", "fp_categories.png", "sizes.png",
                                       "overlays", "metrics.json", "summary.json"}
    assert written["sizes"]["reference"]["w"] > 0


def _run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path,
              *args: str) -> str:
    monkeypatch.setattr(sys, "argv", ["diagnose", f"hydra.run.dir={tmp_path / 'bad'}", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_bad_input_gives_one_clear_line(monkeypatch: pytest.MonkeyPatch,
                                        capsys: pytest.CaptureFixture, tsm_ckpt: Path,
                                        plume_root: Path, plume_video: Path,
                                        tmp_path: Path) -> None:
    pickle = plume_root / "TrueLeakedGas.pkl"
    ok = [f"ckpt={tsm_ckpt}", f"input={plume_video}", "progress=false"]
    assert "input=... is required" in _run_main(monkeypatch, capsys, tmp_path,
                                                f"ckpt={tsm_ckpt}")
    assert "checkpoint not found" in _run_main(monkeypatch, capsys, tmp_path,
                                               f"ckpt={tmp_path}/none.ckpt", ok[1])
    assert "no such file" in _run_main(monkeypatch, capsys, tmp_path, ok[0],
                                       f"input={tmp_path}/none.avi")
    assert "annotation pickle not found" in _run_main(monkeypatch, capsys, tmp_path, *ok,
                                                      f"gt={tmp_path}/none.pkl")
    assert "is not in" in _run_main(monkeypatch, capsys, tmp_path, *ok, f"gt={pickle}",
                                    "video=TrueLeakedGas/999_nowhere")
    assert "outside the video's frames" in _run_main(monkeypatch, capsys, tmp_path, *ok,
                                                     "overlays.frames=[0,41]")
    assert "unknown scene.* keys" in _run_main(monkeypatch, capsys, tmp_path, *ok,
                                               "+scene.colour=1")
    with pytest.raises(ConfigError, match="top_k"):
        DiagnoseSettings(top_k=0)
