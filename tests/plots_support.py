"""Helpers for the figure tests: file signatures and matplotlib made unimportable."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
INSTALL_HINT = "pip install 'iodvideo[plots]'"


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000, path


def assert_pdf(path: Path) -> None:
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF"), path


def block_matplotlib(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ``import matplotlib...`` raises ImportError until the test ends, as if the plots
    extra were not installed (modules already loaded are hidden too, then restored)."""
    for name in [n for n in sys.modules if n == "matplotlib" or n.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError):
        import matplotlib.figure  # noqa: F401


# the same, for a subprocess: ``python -c BLOCK + "..."``
BLOCK = "import sys; sys.modules['matplotlib'] = None; "
