"""The notebooks in notebooks/ run headless with tiny inputs; their source is text.

Each notebook's committed source is a jupytext percent-format ``.py`` file (notebooks/README.md),
read here with jupytext into a notebook and executed by nbclient in this environment's
``python3`` kernel (ipykernel in .venv), with ``IODVIDEO_NOTEBOOK_TINY=1`` and a temporary
working directory, so nothing is written into the repository. 01_synthiod runs twice: with the
real data in ../shared (when present) and with the shared folder pointed somewhere empty, where
it must say the real data is absent and still finish. The charts need matplotlib (the plots
extra, in dev).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="notebook tests need the dev extra")
nbclient = pytest.importorskip("nbclient", reason="notebook tests need the dev extra")
jupytext = pytest.importorskip("jupytext", reason="notebook tests need the dev extra")
pytest.importorskip("ipykernel", reason="notebook tests need the dev extra")
pytest.importorskip("matplotlib", reason="the notebooks' charts need the plots extra")

pytestmark = pytest.mark.slow

REPO_ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO_ROOT / "notebooks"
NAMES = ("01_synthiod.py", "02_results.py")
SHARED = REPO_ROOT.parent / "shared"
CELL_TIMEOUT_S = 180


def execute(name: str, workdir: Path, monkeypatch: pytest.MonkeyPatch, **env: str):
    """Run ``name`` in a fresh kernel; return the executed notebook, its printed summary and
    the wall time."""
    monkeypatch.setenv("IODVIDEO_NOTEBOOK_TINY", "1")
    monkeypatch.setenv("IPYTHONDIR", str(workdir / ".ipython"))
    monkeypatch.delenv("IODVIDEO_CKPT", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    notebook = read_source(name)
    client = nbclient.NotebookClient(
        notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    )
    began = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - began
    return notebook, summary_of(notebook), seconds


def read_source(name: str):
    """The notebook that ``notebooks/<name>`` (a percent-format .py) stands for."""
    notebook = jupytext.read(NOTEBOOKS / name, fmt="py:percent")
    nbformat.validate(notebook)
    return notebook


def cells_of(notebook) -> list[tuple[str, str, list[str]]]:
    return [(c.cell_type, c.source, c.metadata.get("tags", [])) for c in notebook.cells]


def outputs(notebook) -> list:
    return [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]


def text_of(notebook) -> str:
    parts = []
    for out in outputs(notebook):
        if out.output_type == "stream":
            parts.append(out.text)
        elif "data" in out:
            parts.append(out.data.get("text/markdown", "") or out.data.get("text/plain", ""))
    return "\n".join(parts)


def summary_of(notebook) -> dict:
    lines = [line for line in text_of(notebook).splitlines()
             if line.startswith("NOTEBOOK_SUMMARY ")]
    assert len(lines) == 1, "the last cell prints one NOTEBOOK_SUMMARY line"
    return json.loads(lines[0].split(" ", 1)[1])


def images(notebook) -> int:
    return sum(1 for out in outputs(notebook) if "image/png" in out.get("data", {}))


def markdown_tables(notebook) -> list[str]:
    return [out.data["text/markdown"] for out in outputs(notebook)
            if "text/markdown" in out.get("data", {})]


def assert_clean_run(notebook, summary: dict) -> None:
    errors = [out for out in outputs(notebook) if out.output_type == "error"]
    assert not errors
    # the kernel is this environment's Python (the venv's ipykernel), not some other one
    assert Path(summary["python"]).resolve() == Path(sys.executable).resolve()
    assert images(notebook) == summary["figures"] > 0


@pytest.mark.parametrize("notebook_name", NAMES)
def test_notebook_sources_are_paired_percent_scripts(notebook_name):
    """The .py is a notebook in jupytext's canonical percent form, paired with an .ipynb:
    what Jupyter saves back is the same text (the version line aside), so opening and saving
    a notebook does not rewrite its source, and the .py is the notebook cell for cell."""
    path = NOTEBOOKS / notebook_name
    text = path.read_text()
    notebook = read_source(notebook_name)
    assert notebook.metadata["jupytext"]["formats"] == "ipynb,py:percent"
    assert notebook.metadata["kernelspec"]["name"] == "python3"

    def unversioned(source: str) -> str:
        return "\n".join(line for line in source.splitlines()
                         if not line.startswith("#       jupytext_version:"))

    assert unversioned(jupytext.writes(notebook, fmt="py:percent")) == unversioned(text), (
        f"{notebook_name} is not in jupytext's canonical form: "
        f"jupytext --to py:percent --output {path} {path}")
    # the paired .ipynb has the same cells: kind, source, tags
    ipynb = nbformat.reads(jupytext.writes(notebook, fmt="ipynb"), as_version=4)
    nbformat.validate(ipynb)
    assert cells_of(ipynb) == cells_of(notebook) == cells_of(jupytext.read(path))
    assert notebook.cells[0].cell_type == "markdown"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code
    # the first code cell holds the parameters (tiny vs full size)
    assert "parameters" in code[0].metadata.get("tags", [])
    assert "TINY" in code[0].source
    assert not (NOTEBOOKS / "build_notebooks.py").exists()


def test_synthiod_notebook_with_the_real_data(tmp_path, monkeypatch):
    monkeypatch.delenv("IODVIDEO_ANNOTATIONS", raising=False)
    notebook, summary, seconds = execute("01_synthiod.py", tmp_path, monkeypatch,
                                         IODVIDEO_SHARED=str(SHARED))
    assert_clean_run(notebook, summary)
    assert sorted(summary["synth_kinds_shown"]) == sorted(
        ["static_clear", "static_vague", "dynamic_clear", "dynamic_vague"])
    assert summary["box_rows"] == 3 * 6 + 1 and summary["mix_rows"] == 8
    tables = markdown_tables(notebook)
    saliency = next(t for t in tables if t.startswith("| group |"))
    assert len(saliency.splitlines()) == 2 + summary["saliency_groups"]
    have_real = (SHARED / "data" / "real-clips" / "001_wild_static_vague.avi").is_file() and (
        SHARED / "data" / "iodvideo-annotations" / "TrueLeakedGas.pkl").is_file()
    if have_real:
        assert summary["real_annotations"] and summary["real_clip_frames"] == 16
        # four SynthIOD kinds and the real clip
        assert summary["figures"] == 5
        assert "absent" not in next(t for t in tables if "IOD-Video (pickle)" in t)
    else:
        assert not summary["real_annotations"] and "real data absent" in text_of(notebook)
    assert seconds < 60, f"tiny 01_synthiod took {seconds:.1f} s"


def test_synthiod_notebook_without_the_shared_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("IODVIDEO_ANNOTATIONS", raising=False)
    notebook, summary, _ = execute("01_synthiod.py", tmp_path, monkeypatch,
                                   IODVIDEO_SHARED=str(tmp_path / "no-shared"))
    assert_clean_run(notebook, summary)
    assert not summary["real_annotations"] and summary["real_clip_frames"] == 0
    assert text_of(notebook).count("real data absent") == 2
    assert summary["figures"] == 4  # the SynthIOD kinds only


def test_results_notebook(tmp_path, monkeypatch):
    notebook, summary, seconds = execute("02_results.py", tmp_path, monkeypatch)
    assert_clean_run(notebook, summary)
    runs = sorted((REPO_ROOT / "results" / "learning").glob("*_summary.json"))
    assert summary["result_rows"] == summary["summary_files"] == len(runs) > 0
    table = next(t for t in markdown_tables(notebook) if t.startswith("| run | epochs |"))
    assert len(table.splitlines()) == 2 + len(runs)
    assert summary["curves"] == 3
    assert all(points > 1 for points in summary["pr_points"].values())
    assert summary["predicted_frames"] == 12 and summary["shown_boxes"] > 0
    assert not summary["checkpoint"]
    # a chart per results/tables folder with clear/vague columns, learning curves, PR curves
    # and the predictions
    tables = sorted((REPO_ROOT / "results" / "tables").glob("*/results.csv"))
    assert summary["tables"] == len(tables) and 0 < summary["table_charts"] <= len(tables)
    assert summary["figures"] == summary["table_charts"] + 3
    assert seconds < 60, f"tiny 02_results took {seconds:.1f} s"
