"""scripts/plot_ap_vs_iou.py: AP against IoU threshold of eval directories, as PNG + PDF with
the markdown table; bad input is one error line."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from iodvideo.errors import ConfigError
from plots_support import assert_pdf, assert_png

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("plot_ap_vs_iou",
                                               REPO / "scripts" / "plot_ap_vs_iou.py")
plot_ap_vs_iou = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(plot_ap_vs_iou)


def _eval_dir(root: Path, aps: list[float]) -> Path:
    thresholds = [0.5 + 0.05 * i for i in range(len(aps))]
    curve = {f"{t:g}": ap for t, ap in zip(thresholds, aps, strict=True)}
    root.mkdir(parents=True)
    (root / "metrics.json").write_text(json.dumps(
        {"ap_per_threshold": {"split 1": {"all": curve, "clear": curve}}}))
    return root


def test_curves_are_read_drawn_and_tabulated(tmp_path, capsys):
    frame = _eval_dir(tmp_path / "frame", [49.5, 39.0, 29.2])
    clip = _eval_dir(tmp_path / "clip", [55.0, 45.1, 33.3])
    assert plot_ap_vs_iou.read_ap_curve(frame, "split 1", "all") == pytest.approx(
        {0.5: 49.5, 0.55: 39.0, 0.6: 29.2})
    out = tmp_path / "ap_vs_iou.png"
    plot_ap_vs_iou.main([str(out), f"per-frame={frame}", f"clip mean={clip / 'metrics.json'}"])
    assert_png(out)
    assert_pdf(out.with_suffix(".pdf"))
    table = capsys.readouterr().out
    assert "| per-frame | 49.5 | 39.0 | 29.2 |" in table
    assert "| clip mean | 55.0 | 45.1 | 33.3 |" in table


def test_bad_input_is_one_clear_error(tmp_path):
    run = _eval_dir(tmp_path / "run", [10.0])
    with pytest.raises(ConfigError, match="no metrics.json"):
        plot_ap_vs_iou.read_ap_curve(tmp_path / "missing", "split 1", "all")
    with pytest.raises(ConfigError, match="no ap_per_threshold for 'split 2'"):
        plot_ap_vs_iou.read_ap_curve(run, "split 2", "all")
    with pytest.raises(ConfigError, match="no 'vague' subset"):
        plot_ap_vs_iou.read_ap_curve(run, "split 1", "vague")
    with pytest.raises(ConfigError, match="LABEL=EVAL_DIR"):
        plot_ap_vs_iou.parse_runs(["just/a/path"])
