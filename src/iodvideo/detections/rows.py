"""Row arrays of the detection formats: ``(n, 6)`` frame detections, ``(n, 5)`` GT tubes."""

from __future__ import annotations

import numpy as np


def as_rows(array: np.ndarray, columns: int, what: str) -> np.ndarray:
    """``array`` as float64 ``(n, columns)``; an empty input of any shape gives ``(0, columns)``
    (an empty clip or video may arrive as ``[]`` from any producer, disk formats included)."""
    out = np.asarray(array, dtype=np.float64)
    if out.size == 0:
        return out.reshape(0, columns)
    if out.ndim != 2 or out.shape[1] != columns:
        raise ValueError(f"{what} must be an (n, {columns}) array, got shape {out.shape}")
    return out
