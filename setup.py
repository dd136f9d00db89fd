"""Build hook; the project's metadata lives in pyproject.toml.

The Hydra configs stay in the top-level ``conf/``, where users edit them. A built wheel must
carry them too (``pip install .`` has no checkout to read them from), so ``build_py`` copies
``conf/`` into the built package as ``iodvideo/conf``. :mod:`iodvideo.config` reads that copy
when installed and the checkout's ``conf/`` in an editable install.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

CONF = Path(__file__).resolve().parent / "conf"


class BuildPyWithConf(build_py):
    """``build_py`` plus a copy of ``conf/`` as the package data ``iodvideo/conf``."""

    def _conf_files(self) -> list[tuple[Path, Path]]:
        target = Path(self.build_lib, "iodvideo", "conf")
        return [(path, target / path.relative_to(CONF)) for path in sorted(CONF.rglob("*.yaml"))]

    def run(self) -> None:
        if self.editable_mode:  # an editable install reads the checkout's conf/ directly
            super().run()
            return
        if not CONF.is_dir():
            raise FileNotFoundError(f"{CONF}: the Hydra configs the package ships are missing")
        # build/ persists between builds: start from an empty package directory so that a
        # module or config removed from the checkout does not linger in the next wheel
        shutil.rmtree(Path(self.build_lib, "iodvideo"), ignore_errors=True)
        super().run()
        for source, dest in self._conf_files():
            self.mkpath(str(dest.parent))
            self.copy_file(str(source), str(dest))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if self.editable_mode:
            return outputs
        return [*outputs, *(str(dest) for _, dest in self._conf_files())]


setup(cmdclass={"build_py": BuildPyWithConf})
