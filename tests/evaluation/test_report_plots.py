"""eval's PR curves (iodvideo.evaluation.report): matplotlib figures of the raw PR curves,
written as PNG + PDF; without matplotlib the report still has its metrics and says in a
warning what to install."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from iodvideo.evaluation import score_detections
from iodvideo.evaluation.detections_io import save_detections
from iodvideo.evaluation.metrics import THRESHOLDS_50_95
from iodvideo.evaluation.report import pr_curve, pr_figure, write_pr_plots
from plots_support import INSTALL_HINT, assert_pdf, assert_png, block_matplotlib

from .helpers import random_case, tube, write_annotations

pytest.importorskip("matplotlib", reason="figures need the plots extra")

CLEAR = "TrueLeakedGas/001_valve_static_clear"


def _scored():
    dets, gt = random_case(np.random.default_rng(3), ties=False, integer_boxes=False)
    return score_detections(dets, gt, list(THRESHOLDS_50_95), workers=1)


def test_pr_figure_draws_the_pr_curves_exactly() -> None:
    scored = _scored()
    curves = {f"IoU {t:g}": pr_curve(scored, t) for t in (0.5, 0.75)}
    fig = pr_figure(curves, "split1 frame PR, ap50_ap75")
    (ax,) = fig.axes
    assert [line.get_label() for line in ax.lines] == ["IoU 0.5", "IoU 0.75"]
    for line, (recall, precision) in zip(ax.lines, curves.values(), strict=True):
        np.testing.assert_array_equal(line.get_xdata(), recall)
        np.testing.assert_array_equal(line.get_ydata(), precision)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("recall", "precision")
    assert ax.get_title() == "split1 frame PR, ap50_ap75"
    assert ax.get_xlim() == (0.0, 1.0)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(curves)


def test_write_pr_plots_writes_png_and_pdf(tmp_path: Path) -> None:
    written = write_pr_plots(tmp_path, _scored(), "split1_")
    names = ["split1_pr_ap50_ap75.png", "split1_pr_ap50_ap75.pdf",
             "split1_pr_ap50-95.png", "split1_pr_ap50-95.pdf"]
    assert [p.name for p in written] == names
    for path in written:
        (assert_png if path.suffix == ".png" else assert_pdf)(path)


def test_without_matplotlib_the_plots_are_skipped_with_a_warning(tmp_path, monkeypatch):
    scored = _scored()
    block_matplotlib(monkeypatch)
    with pytest.warns(UserWarning, match=r"PR curves not drawn") as record:
        assert write_pr_plots(tmp_path, scored, "split1_") == []
    assert INSTALL_HINT in str(record[0].message)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("matplotlib_installed", [True, False])
def test_eval_report_with_and_without_matplotlib(tmp_path, monkeypatch, matplotlib_installed):
    from cli_support import base_config
    from iodvideo.eval import evaluate

    tubes = {CLEAR: tube(5)}
    pkl = write_annotations(tmp_path / "ann.pkl", tubes, test=[[CLEAR]])
    dets = {CLEAR: np.column_stack((tubes[CLEAR], np.linspace(0.5, 0.9, 5)))}
    save_detections(tmp_path / "dets", dets)
    out = tmp_path / "out"
    cfg = base_config("eval", out, detections=str(tmp_path / "dets"), split=1, workers=1,
                      plots=True, data={"annotations": str(pkl), "root": None})
    if not matplotlib_installed:
        block_matplotlib(monkeypatch)
        with pytest.warns(UserWarning, match=r"iodvideo\[plots\]"):
            rows = evaluate(cfg)
    else:
        rows = evaluate(cfg)
    assert rows["split 1"]["AP@0.5"] == pytest.approx(100.0)
    assert json.loads((out / "metrics.json").read_text())["metrics"]["split 1"]["AP@0.5"] == (
        pytest.approx(100.0))
    assert (out / "report.md").is_file() and (out / "metrics.csv").is_file()
    plots = sorted(p.name for p in out.glob("split1_pr_*"))
    if matplotlib_installed:
        assert plots == ["split1_pr_ap50-95.pdf", "split1_pr_ap50-95.png",
                         "split1_pr_ap50_ap75.pdf", "split1_pr_ap50_ap75.png"]
    else:
        assert plots == []
