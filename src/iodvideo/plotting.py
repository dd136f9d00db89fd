"""Figures with matplotlib, the optional ``plots`` extra (``pip install 'iodvideo[plots]'``).

matplotlib is imported only when a figure is made, so the package imports without it. Figures
are plain :class:`matplotlib.figure.Figure` objects, not pyplot ones: no global state, no
display, and rendered by Agg (PNG) or the PDF / SVG backends when saved. Restyle them as any
matplotlib figure (``fig.axes[0].set_title(...)``, ``matplotlib.rc_context``) before saving.

Without matplotlib, :func:`new_figure` raises :class:`PlotsUnavailableError`, one line that
says what to install: commands whose figure is the deliverable (``scripts/plot_learning.py``)
end with it; those that draw figures as a by-product (eval's PR curves, diagnose's size chart)
warn with it and go on.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from iodvideo.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

INSTALL_HINT = "pip install 'iodvideo[plots]'"
RASTER = ".png"
VECTOR = (".pdf", ".svg")


class PlotsUnavailableError(ConfigError):
    """matplotlib, needed for a figure, is not installed."""


def require_matplotlib(what: str) -> None:
    """Raise :class:`PlotsUnavailableError` (``what`` names the figures) without matplotlib."""
    try:
        import matplotlib.figure  # noqa: F401
    except ImportError as err:
        raise PlotsUnavailableError(
            f"drawing {what} needs matplotlib, which is not installed: {INSTALL_HINT}"
        ) from err


def new_figure(what: str, figsize: tuple[float, float], **kwargs) -> Figure:
    """A fresh figure with a constrained layout; ``what`` names the figure in the error
    raised when matplotlib is missing."""
    require_matplotlib(what)
    from matplotlib.figure import Figure

    return Figure(figsize=figsize, layout="constrained", **kwargs)


def save_figure(fig: Figure, path: Path, vector: str = ".pdf", dpi: int = 150) -> list[Path]:
    """Write ``fig`` as a PNG and as a vector file beside it: ``path`` in its own format
    (``.png``, ``.pdf`` or ``.svg``) and the other one with the same stem (``vector`` for a
    PNG ``path``, a PNG for a vector one). Returns the paths written, ``path`` first."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (RASTER, *VECTOR) or vector not in VECTOR:
        raise ConfigError(f"{path}: a figure is written as .png, .pdf or .svg")
    other = path.with_suffix(vector if suffix == RASTER else RASTER)
    path.parent.mkdir(parents=True, exist_ok=True)
    for target in (path, other):
        # fixed metadata: the same figure gives the same bytes (no creation date in the PDF)
        metadata = {"CreationDate": None} if target.suffix.lower() == ".pdf" else (
            {"Date": None} if target.suffix.lower() == ".svg" else None)
        fig.savefig(target, dpi=dpi, metadata=metadata)
    return [path, other]


def figure_to_bgr(fig: Figure, dpi: int = 100) -> np.ndarray:
    """``fig`` rendered by Agg as an OpenCV ``(H, W, 3)`` uint8 BGR image."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    fig.set_dpi(dpi)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return np.ascontiguousarray(rgba[..., 2::-1])
