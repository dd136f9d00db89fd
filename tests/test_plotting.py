"""iodvideo.plotting: matplotlib stays optional (the plots extra), figures are written as a PNG
plus a vector file, and a missing matplotlib is one line that says what to install. Also the
diagnosis' box-size chart (iodvideo.inference.diagnose_draw), a matplotlib figure."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from iodvideo.errors import ConfigError, IODVideoError
from iodvideo.inference import diagnose_draw
from iodvideo.plotting import (
    PlotsUnavailableError,
    figure_to_bgr,
    new_figure,
    require_matplotlib,
    save_figure,
)
from plots_support import BLOCK, INSTALL_HINT, assert_pdf, assert_png, block_matplotlib

pytest.importorskip("matplotlib", reason="figures need the plots extra")


def _line_figure():
    fig = new_figure("a test chart", (3.0, 2.0))
    fig.add_subplot().plot([0, 1, 2], [1, 0, 1])
    return fig


def test_save_figure_writes_png_and_vector_beside_it(tmp_path: Path) -> None:
    png, pdf = save_figure(_line_figure(), tmp_path / "sub" / "chart.png")
    assert (png, pdf) == (tmp_path / "sub" / "chart.png", tmp_path / "sub" / "chart.pdf")
    assert_png(png)
    assert_pdf(pdf)
    svg, png2 = save_figure(_line_figure(), tmp_path / "chart2.svg")
    assert png2 == tmp_path / "chart2.png"
    assert_png(png2)
    assert svg.read_text().lstrip().startswith("<?xml") and "<svg" in svg.read_text()
    png3, svg3 = save_figure(_line_figure(), tmp_path / "chart3.png", vector=".svg")
    assert svg3.suffix == ".svg" and svg3.is_file()
    # no creation date: the same figure gives the same PDF bytes
    again = save_figure(_line_figure(), tmp_path / "again.png")[1]
    assert again.read_bytes() == pdf.read_bytes()
    with pytest.raises(ConfigError, match=r"\.png, \.pdf or \.svg"):
        save_figure(_line_figure(), tmp_path / "chart.jpg")


def test_figure_to_bgr_renders_with_agg() -> None:
    fig = new_figure("a test chart", (3.0, 2.0))
    fig.add_subplot().axvspan(0, 1, color=(1.0, 0.0, 0.0))  # pure red fills the axes
    image = figure_to_bgr(fig, dpi=50)
    assert image.shape == (100, 150, 3) and image.dtype == np.uint8
    centre = image[50, 75]
    assert centre[2] > 200 and centre[0] < 60 and centre[1] < 60  # BGR: red in channel 2


def test_missing_matplotlib_is_one_line_saying_what_to_install(monkeypatch) -> None:
    block_matplotlib(monkeypatch)
    with pytest.raises(PlotsUnavailableError) as caught:
        new_figure("PR curves", (1.0, 1.0))
    message = str(caught.value)
    assert isinstance(caught.value, IODVideoError)  # entry points print it as "error: ..."
    assert "\n" not in message and INSTALL_HINT in message and "PR curves" in message
    with pytest.raises(PlotsUnavailableError):
        require_matplotlib("anything")


@pytest.mark.slow
def test_the_package_imports_without_matplotlib() -> None:
    code = BLOCK + (
        "import iodvideo.plotting, iodvideo.evaluation.report, iodvideo.inference.diagnose_draw;"
        " from iodvideo.plotting import new_figure\n"
        "try:\n    new_figure('x', (1, 1))\n"
        "except Exception as err:\n    print(type(err).__name__, err)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("PlotsUnavailableError") and INSTALL_HINT in proc.stdout


def test_size_figure_shows_the_boxes_and_the_square_line() -> None:
    rng = np.random.default_rng(0)
    gt, pred = rng.uniform(20, 80, (7, 2)), rng.uniform(10, 150, (5, 2))
    reference = rng.uniform(5, 100, (30, 2))
    fig = diagnose_draw.size_figure(gt, pred, (240, 320), 96, reference)
    ax = fig.axes[0]
    points = [c.get_offsets() for c in ax.collections]
    np.testing.assert_allclose(points[0], reference)
    np.testing.assert_allclose(points[1], gt)
    np.testing.assert_allclose(points[2], pred)
    labels = ax.get_legend_handles_labels()[1]
    assert labels[1] == "GT: median {:.0f} x {:.0f}".format(*np.median(gt, axis=0))
    assert "square in the 96x96 model input" in labels[-1]
    square = ax.lines[-1]
    assert list(square.get_xdata()) == [0, 320] and list(square.get_ydata()) == [0, 240]
    assert ax.get_xlim() == (0, 320) and ax.get_ylim() == (0, 240)
    assert ax.get_xlabel() == "box width (px)"

    image = diagnose_draw.size_chart(gt, pred, (240, 320), 96, None)
    assert image.ndim == 3 and image.shape[2] == 3 and image.dtype == np.uint8


def test_size_chart_is_skipped_with_a_warning_without_matplotlib(monkeypatch, tmp_path) -> None:
    block_matplotlib(monkeypatch)
    with pytest.warns(UserWarning, match=r"sizes\.png not drawn .*iodvideo\[plots\]"):
        image = diagnose_draw.size_chart(np.ones((2, 2)), np.ones((2, 2)), (240, 320), 96)
    assert image is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert diagnose_draw.write_png(tmp_path / "sizes.png", image) is None
    assert not (tmp_path / "sizes.png").exists()
