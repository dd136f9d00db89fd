"""Where the Hydra configs live, whatever the working directory is."""

from __future__ import annotations

from pathlib import Path

# src/iodvideo/config.py → repository root / conf (editable install, the supported setup).
CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "conf")
