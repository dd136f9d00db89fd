"""Checkpoint I/O: atomic writes (Lightning's fsspec transaction) and safe reads.

Checkpoints may come from elsewhere, so they are read with ``weights_only=True``: tensors and
plain containers only, never arbitrary objects.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from typing import Any

import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO

# MultiStepLR keeps its milestones in a Counter; that is the only non-plain type we store.
torch.serialization.add_safe_globals([collections.Counter])


class SafeCheckpointIO(TorchCheckpointIO):
    """Lightning's atomic save; loading always restricted to weights and plain data."""

    def load_checkpoint(
        self,
        path: Any,
        map_location: Callable | str | torch.device | None = "cpu",
        weights_only: bool | None = None,
    ) -> dict[str, Any]:
        return super().load_checkpoint(path, map_location=map_location, weights_only=True)
