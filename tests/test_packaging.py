"""A non-editable install works: the wheel carries the Hydra configs (copied from conf/ by
setup.py), and the installed CLIs find them from any working directory. The sdist holds what
the wheel is built from and none of the checkout's data or outputs."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # builds and installs the package, runs CLIs in subprocesses
# What the sdist may hold besides the sources: anything else (data/, outputs/, .venv/, ...)
# would mean MANIFEST.in or setuptools picked up the checkout.
SDIST_TOP_LEVEL = {"conf", "src", "pyproject.toml", "setup.py", "setup.cfg", "MANIFEST.in",
                   "README.md", "PKG-INFO"}


def _run(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def _conf_files() -> set[str]:
    return {p.relative_to(REPO / "conf").as_posix() for p in (REPO / "conf").rglob("*.yaml")}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    built = _run("-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                 str(dist), str(REPO), cwd=dist)
    assert built.returncode == 0, built.stderr[-3000:]
    (path,) = dist.glob("iodvideo-*.whl")
    return path


@pytest.fixture(scope="module")
def site(wheel: Path) -> Path:
    target = wheel.parent / "site"
    installed = _run("-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                     str(wheel), cwd=wheel.parent)
    assert installed.returncode == 0, installed.stderr[-3000:]
    return target


def _installed_env(site: Path) -> dict:
    """The installed copy first on the path (before the checkout's editable install)."""
    return {**os.environ, "PYTHONPATH": str(site), "HF_HUB_OFFLINE": "1",
            "WANDB_MODE": "offline"}


def test_wheel_holds_the_package_and_every_config_only(wheel: Path):
    names = zipfile.ZipFile(wheel).namelist()
    assert all(n.startswith(("iodvideo/", "iodvideo-")) for n in names), names
    packaged = {n.removeprefix("iodvideo/conf/") for n in names if n.startswith("iodvideo/conf/")}
    assert packaged == _conf_files()


@pytest.mark.parametrize("module", ["iodvideo.train", "iodvideo.eval"])
def test_installed_cli_help_from_another_directory(site: Path, tmp_path: Path, module: str):
    result = _run("-m", module, "--help", cwd=tmp_path, env=_installed_env(site))
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"{module}: " in result.stdout and "== Configuration groups ==" in result.stdout
    assert "Primary config directory not found" not in result.stderr


def test_installed_package_reads_its_own_configs(site: Path, tmp_path: Path):
    code = "import iodvideo, iodvideo.config as c; print(iodvideo.__file__); print(c.CONFIG_DIR)"
    result = _run("-c", code, cwd=tmp_path, env=_installed_env(site))
    assert result.returncode == 0, result.stderr[-3000:]
    package, config_dir = (Path(line) for line in result.stdout.split())
    assert package.is_relative_to(site) and config_dir == site / "iodvideo" / "conf"


def test_sdist_holds_the_sources_and_configs_only(tmp_path: Path):
    code = "import sys, setuptools.build_meta as b; print(b.build_sdist(sys.argv[1]))"
    built = _run("-c", code, str(tmp_path), cwd=REPO)
    assert built.returncode == 0, built.stderr[-3000:]
    with tarfile.open(tmp_path / built.stdout.split()[-1]) as sdist:
        names = [Path(*Path(n).parts[1:]) for n in sdist.getnames()]
    assert {n.parts[0] for n in names if n.parts} <= SDIST_TOP_LEVEL
    assert {n.relative_to("conf").as_posix() for n in names
            if n.parts[:1] == ("conf",) and n.suffix == ".yaml"} == _conf_files()
