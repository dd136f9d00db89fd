"""Checkpoint I/O: atomic writes (Lightning's fsspec transaction), safe reads, RNG states.

Checkpoints may come from elsewhere, so they are read with ``weights_only=True``: tensors and
plain containers only, never arbitrary objects.
"""

from __future__ import annotations

import collections
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning.callbacks import Callback

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


def _numpy_state_to_plain(state: tuple) -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = state
    return {
        "name": name, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
        "has_gauss": int(has_gauss), "cached_gaussian": float(cached),
    }


def _numpy_state_from_plain(state: dict[str, Any]) -> tuple:
    keys = state["keys"].numpy().astype(np.uint32)
    return (state["name"], keys, state["pos"], state["has_gauss"], state["cached_gaussian"])


class RNGStateCheckpoint(Callback):
    """Save and restore the random-number states (torch CPU and CUDA, numpy, Python ``random``)
    with every checkpoint, so a resumed run draws the same shuffles, DataLoader worker seeds and
    augmentations as an uninterrupted one. Lightning itself does not store them.

    States are stored as tensors and plain containers, loadable with ``weights_only=True``.
    Under DDP only rank 0's state is saved; it is restored on every rank (exact resumption is
    promised for single-process runs).
    """

    def state_dict(self) -> dict[str, Any]:
        version, internal, gauss = random.getstate()
        state: dict[str, Any] = {
            "torch": torch.get_rng_state(),
            "numpy": _numpy_state_to_plain(np.random.get_state()),
            "python": {"version": version, "internal": list(internal), "gauss": gauss},
        }
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        torch.set_rng_state(state_dict["torch"])
        np.random.set_state(_numpy_state_from_plain(state_dict["numpy"]))
        py = state_dict["python"]
        random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))
        cuda = state_dict.get("cuda")
        if cuda is not None and torch.cuda.is_available():
            if len(cuda) == torch.cuda.device_count():
                torch.cuda.set_rng_state_all(cuda)
