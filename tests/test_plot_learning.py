"""scripts/plot_learning.py: the learning curves of run directories as a matplotlib figure,
written as PNG + PDF (or SVG), with the markdown table; without matplotlib, one error line."""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from plots_support import BLOCK, INSTALL_HINT, assert_pdf, assert_png

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "plot_learning.py"
_spec = importlib.util.spec_from_file_location("plot_learning", SCRIPT)
plot_learning = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(plot_learning)

METRIC = "val/frameAP@0.5"


def _run_dir(root: Path, losses: list[list[float]], aps: list[float]) -> Path:
    """A training run: Lightning's csv/metrics.csv (train/loss rows per step, one validation
    row per epoch; the last epoch of ``losses`` beyond ``aps`` was cut short), the Hydra
    config and one checkpoint per validated epoch, written 1 minute apart."""
    (root / "csv").mkdir(parents=True)
    with open(root / "csv" / "metrics.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, ["epoch", "step", "train/loss", METRIC])
        writer.writeheader()
        step = 0
        for epoch, values in enumerate(losses):
            for value in values:
                writer.writerow({"epoch": epoch, "step": step, "train/loss": value})
                step += 1
            if epoch < len(aps):
                writer.writerow({"epoch": epoch, "step": step, METRIC: aps[epoch]})
        writer.writerow({"step": step})  # a row without epoch is ignored
    (root / ".hydra").mkdir()
    (root / ".hydra" / "config.yaml").write_text("{}\n")
    start = time.time() - 3600
    os.utime(root / ".hydra" / "config.yaml", (start, start))
    (root / "checkpoints").mkdir()
    for epoch in range(len(aps)):
        ckpt = root / "checkpoints" / f"epoch{epoch:03d}.ckpt"
        ckpt.write_bytes(b"")
        os.utime(ckpt, (start + 60 * (epoch + 1), start + 60 * (epoch + 1)))
    return root


def test_read_curves_means_the_losses_and_drops_epochs_cut_short(tmp_path: Path) -> None:
    run = _run_dir(tmp_path / "a", [[2.0, 4.0], [1.0, 2.0], [0.5]], [10.0, 20.0])
    loss, values = plot_learning.read_curves(run, METRIC)
    assert loss == {0: 3.0, 1: 1.5} and values == {0: 10.0, 1: 20.0}
    # the CSV itself works too (results/learning/*_metrics.csv)
    assert plot_learning.read_curves(run / "csv" / "metrics.csv", METRIC) == (loss, values)
    minutes = plot_learning.epoch_end_minutes(run)
    assert minutes == pytest.approx({0: 1.0, 1: 2.0}, abs=0.02)


def test_learning_figure_draws_the_curves() -> None:
    pytest.importorskip("matplotlib", reason="figures need the plots extra")
    losses = {"a": {1.0: 3.0, 2.0: 1.5}, "b": {1.0: 2.0, 2.0: 1.0, 3.0: float("nan")}}
    aps = {"a": {1.0: 10.0, 2.0: 20.0}, "b": {2.0: 30.0, 1.0: 15.0}}
    fig = plot_learning.learning_figure(losses, aps, METRIC, "T")
    left, right = fig.axes
    assert left.get_title() == "T train loss (epoch mean)"
    assert right.get_title() == f"{METRIC} (percent)"
    assert [line.get_label() for line in right.lines] == ["a", "b"]
    np.testing.assert_array_equal(left.lines[1].get_xdata(), [1.0, 2.0])  # NaN left out
    np.testing.assert_array_equal(left.lines[1].get_ydata(), [2.0, 1.0])
    np.testing.assert_array_equal(right.lines[1].get_xdata(), [1.0, 2.0])  # sorted by x
    np.testing.assert_array_equal(right.lines[1].get_ydata(), [15.0, 30.0])
    assert left.get_ylim()[0] == 0.0 and right.get_xlabel() == "epoch"


def test_main_writes_png_pdf_and_the_table(tmp_path: Path, capsys) -> None:
    pytest.importorskip("matplotlib", reason="figures need the plots extra")
    a = _run_dir(tmp_path / "a", [[2.0, 4.0], [1.0, 2.0], [0.5]], [10.0, 20.0])
    b = _run_dir(tmp_path / "b", [[3.0], [2.0]], [5.0, 25.0])
    out = tmp_path / "figs" / "learning.png"
    plot_learning.main([str(out), f"run a={a}", f"b=x={b}", "--wall", "--title", "T"])
    assert_png(out)
    assert_pdf(out.with_suffix(".pdf"))
    printed = capsys.readouterr().out
    assert "| run a | 2 | 2.0 | 1.500 | 20.00 |" in printed
    assert "| b=x | 1 | 1.0 | 3.000 | 5.00 |" in printed
    assert printed.rstrip().endswith(f"wrote {out}, {out.with_suffix('.pdf')}")
    svg = tmp_path / "learning.svg"
    plot_learning.main([str(svg), f"a={a}"])
    assert svg.read_text().lstrip().startswith("<?xml") and svg.with_suffix(".png").is_file()


@pytest.mark.slow
def test_without_matplotlib_the_script_says_what_to_install(tmp_path: Path) -> None:
    a = _run_dir(tmp_path / "a", [[2.0], [1.0]], [10.0, 20.0])
    code = BLOCK + (f"import runpy; sys.argv = ['plot_learning.py', {str(tmp_path / 'o.png')!r}, "
                    f"{'a=' + str(a)!r}]; runpy.run_path({str(SCRIPT)!r}, run_name='__main__')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=REPO)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and proc.stderr.startswith("error: ")
    assert INSTALL_HINT in proc.stderr
    assert not (tmp_path / "o.png").exists()
