"""Shared fixtures. Tests never touch the network: hub and W&B are forced offline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")

REPO_ROOT = Path(__file__).resolve().parents[1]
# The real IOD-Video annotations ship in the shared folder next to the repository.
ANNOTATIONS_DIR = Path(
    os.environ.get(
        "IODVIDEO_ANNOTATIONS", REPO_ROOT.parent / "shared" / "data" / "iodvideo-annotations"
    )
)


@pytest.fixture(scope="session")
def annotations_dir() -> Path:
    if not (ANNOTATIONS_DIR / "TrueLeakedGas.pkl").exists():
        pytest.fail(
            f"real IOD-Video annotations not found in {ANNOTATIONS_DIR}; set IODVIDEO_ANNOTATIONS"
        )
    return ANNOTATIONS_DIR


@pytest.fixture(scope="session")
def real_annotations(annotations_dir: Path):
    from iodvideo.data.annotations import load_annotations

    return load_annotations(annotations_dir / "TrueLeakedGas.pkl")


def pytest_sessionstart(session: pytest.Session) -> None:
    """The machine at the top of the suite's output, also under ``-q`` (``make test``): which
    hardware-specific tests run depends on it (their skip reasons name the missing
    capability), and results from AVX2, AVX-512 and ARM CPUs must be told apart."""
    from iodvideo.hardware import choose_precision, describe_machine

    line = f"iodvideo: {describe_machine()}; default precision {choose_precision('cpu')}"
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)
