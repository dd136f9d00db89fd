"""What both notebooks share: where the repository and the real data are, and how a picture
or a table is shown. Kept out of the notebooks so that the two cannot drift apart."""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

import cv2
import numpy as np
from IPython.display import Image, Markdown, display

import iodvideo

warnings.filterwarnings("ignore", message="IProgress not found")


def find_repo() -> Path:
    """The repository root: the one holding the imported package (an editable install), else
    the first parent of the working directory with a pyproject.toml."""
    here = Path(iodvideo.__file__).resolve().parents[2]
    if (here / "pyproject.toml").is_file():
        return here
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "pyproject.toml").is_file():
            return folder
    raise FileNotFoundError("run this notebook inside the iodvideo repository")


REPO = find_repo()
# The real IOD-Video annotations and clip live beside the repository (../shared);
# IODVIDEO_SHARED overrides that folder, IODVIDEO_ANNOTATIONS the annotation folder alone.
SHARED = Path(os.environ.get("IODVIDEO_SHARED", REPO.parent / "shared"))
ANNOTATIONS = Path(os.environ.get("IODVIDEO_ANNOTATIONS",
                                  SHARED / "data" / "iodvideo-annotations")) / "TrueLeakedGas.pkl"
REAL_CLIP = SHARED / "data" / "real-clips" / "001_wild_static_vague.avi"
REAL_KEY = "TrueLeakedGas/001_wild_static_vague"
WORK = Path(tempfile.mkdtemp(prefix="iodvideo-notebook-"))  # everything written goes here
FIGURES = []  # titles of the pictures shown, for the summary at the end


def show(images, title=""):
    """Display BGR images side by side (padded to one height) as one PNG."""
    images = [cv2.cvtColor(i, cv2.COLOR_GRAY2BGR) if i.ndim == 2 else i for i in images]
    height = max(i.shape[0] for i in images)
    row = np.hstack([np.pad(i, ((0, height - i.shape[0]), (0, 4), (0, 0)),
                            constant_values=255) for i in images])
    if title:
        banner = np.full((20, row.shape[1], 3), 255, np.uint8)
        cv2.putText(banner, title, (3, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1)
        row = np.vstack([banner, row])
    display(Image(data=cv2.imencode(".png", row)[1].tobytes()))
    FIGURES.append(title or f"figure {len(FIGURES) + 1}")


def enlarge(image, min_height=160):
    """Nearest-neighbour upscale of tiny frames so they stay visible."""
    factor = max(1, int(np.ceil(min_height / image.shape[0])))
    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    text = "\n".join(lines)
    display(Markdown(text))
    return text




def describe() -> None:
    """Print where the notebook runs and what it found."""
    print(f"kernel: {sys.executable}")
    print(f"repository: {REPO}")
    print(f"shared data: {SHARED} ({'present' if SHARED.is_dir() else 'absent'})")
