"""Unpickling untrusted files: plain containers, scalars and numpy arrays only.

Annotation pickles and the original code's detection pickles come from elsewhere; a normal
``pickle.load`` would run whatever code they name. This unpickler rebuilds builtin
containers and numpy arrays (numpy names its reconstruction helpers), and refuses every
other global with an ``UnpicklingError`` that says which one.
"""

from __future__ import annotations

import io
import pickle
from typing import Any

_ALLOWED_GLOBALS = frozenset({
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
})


class RestrictedUnpickler(pickle.Unpickler):
    """Refuses every global except numpy's array/dtype/scalar reconstructors."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load global '{module}.{name}'")


def restricted_loads(data: bytes) -> Any:
    """Unpickle ``data`` (Python 2 pickles decode as latin-1, like the original files)."""
    return RestrictedUnpickler(io.BytesIO(data), encoding="iso-8859-1").load()
