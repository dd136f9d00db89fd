"""Shared fixtures and the ``slow`` marker. Tests never touch the network: hub and W&B are
forced offline."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from cli_support import COMMON, VIDEO, built_checkpoint, run_module

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")

REPO_ROOT = Path(__file__).resolve().parents[1]
# The real IOD-Video annotations ship in the shared folder next to the repository.
ANNOTATIONS_DIR = Path(
    os.environ.get(
        "IODVIDEO_ANNOTATIONS", REPO_ROOT.parent / "shared" / "data" / "iodvideo-annotations"
    )
)


# The ``slow`` tests run a command-line entry point in a subprocess (or train end to end):
# seconds to minutes each, left out by ``make test-fast`` (``-m "not slow"``). Modules that are
# slow throughout (test_train_e2e.py, test_train_suite.py, test_packaging.py) say so
# with ``pytestmark``; the CLI tests inside otherwise fast modules are listed here, by module
# file name and test function, together with the fixtures that train a checkpoint through the CLI
# (every test using one, directly or through another fixture, waits for that run).
SUBPROCESS_TESTS = {
    "test_synth.py": {"test_cli_writes_a_tiny_set_and_refuses_to_clobber_it",
                      "test_cli_stats_and_preview"},
    "test_video_reader.py": {"test_convert_cli_reports_missing_root"},
    "test_eval_cli.py": {"test_eval_cli_scores_a_detection_directory"},
    "test_eval_ckpt.py": {"test_ckpt_mode_end_to_end"},
    # its resnet variants fetch resnet_ckpt with request.getfixturevalue
    "test_export.py": {"test_export_round_trip"},
}
CLI_TRAINED_FIXTURES = {"resnet_ckpt"}


@pytest.hookimpl(tryfirst=True)  # marks first, then -m "not slow" deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    functions = [item for item in items if isinstance(item, pytest.Function)]
    # a renamed test would silently drop out of the slow set: refuse names a module lacks
    for path, module in {(f.path, f.module) for f in functions if f.path.name in SUBPROCESS_TESTS}:
        missing = sorted(n for n in SUBPROCESS_TESTS[path.name] if not hasattr(module, n))
        if missing:
            raise pytest.UsageError(f"tests/conftest.py: {path} defines no {missing}")
    for item in functions:
        if (item.originalname in SUBPROCESS_TESTS.get(item.path.name, ())
                or not CLI_TRAINED_FIXTURES.isdisjoint(item.fixturenames)):
            item.add_marker(pytest.mark.slow)


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


# Session fixtures of the CLI and stream tests: tiny SynthIOD videos (with and without gas) and
# tiny checkpoints. The resnet checkpoint comes from the real training entry point (one batch
# of ``experiment=smoke``); the TSM one is built from the composed config (cli_support).
@pytest.fixture(scope="session")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("predict")


@pytest.fixture(scope="session")
def plume_root(work: Path) -> Path:
    """SynthIOD with one strong persistent plume per video (static camera, no distractors)."""
    from iodvideo.data.synth import SynthConfig, generate_synthiod

    generate_synthiod(work / "plume", SynthConfig(clear_contrast=(30.0, 30.0), **COMMON))
    return work / "plume"


@pytest.fixture(scope="session")
def noplume_root(work: Path) -> Path:
    """The same scenes with an invisible plume (contrast 0.001 grey levels)."""
    from iodvideo.data.synth import SynthConfig, generate_synthiod

    generate_synthiod(work / "noplume", SynthConfig(clear_contrast=(0.001, 0.001), **COMMON))
    return work / "noplume"


@pytest.fixture(scope="session")
def plume_video(plume_root: Path) -> Path:
    return plume_root / "Videos" / f"{VIDEO}.avi"


@pytest.fixture(scope="session")
def resnet_ckpt(work: Path) -> Path:
    run = work / "train_resnet"
    proc = run_module("iodvideo.train", "experiment=smoke", "backbone=resnet",
                      f"data.root={work / 'train_synth'}",
                      f"hydra.run.dir={run}", "trainer.limit_train_batches=1",
                      "+trainer.limit_val_batches=1", "callbacks.val_images=null",
                      "callbacks.progress_bar=null", "logger=csv")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run / "checkpoints" / "last.ckpt"


@pytest.fixture(scope="session")
def tsm_ckpt(work: Path) -> Path:
    return built_checkpoint(work / "tsm.ckpt", "tsm")
