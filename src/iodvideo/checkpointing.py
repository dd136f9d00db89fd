"""Checkpoint I/O: atomic writes (Lightning's fsspec transaction), safe reads, RNG states, and
the one path from a checkpoint file to a detector and its decoder settings.

Checkpoints may come from elsewhere, so they are read with ``weights_only=True``: tensors and
plain containers only, never arbitrary objects. A training checkpoint carries its run's
resolved config under :data:`CONFIG_KEY`, so :func:`load_detector` rebuilds any backbone from
the file alone; eval, predict, monitor and export all load through it.
"""

from __future__ import annotations

import collections
import copy
import random
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lightning_fabric.plugins.io.torch_io import TorchCheckpointIO
from pytorch_lightning.callbacks import Callback

from iodvideo.detections.batch import DecodeSettings
from iodvideo.errors import ConfigError
from iodvideo.original_checkpoint import is_original_checkpoint, load_original

# Checkpoint key under which the training run's resolved config travels.
CONFIG_KEY = "iodvideo_config"
# Top-level key of that config holding the class names, in heatmap-channel order (written by
# iodvideo.train from the data's labels; absent in checkpoints from before classes: one class).
LABELS_KEY = "labels"

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


def config_value(config: Mapping[str, Any], dotted: str, default: Any = None) -> Any:
    """``config["a"]["b"]`` for ``"a.b"`` in a checkpoint's plain config, else ``default``."""
    node: Any = config
    for key in dotted.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    return node


def without_initial_weights(model: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint's model config with the backbone's starting weights switched off
    (``pretrained``, ``weights_path``): the checkpoint's own weights replace them at once, so
    fetching ImageNet weights — or needing the training machine's local file — is waste, and
    offline it would stop evaluation for nothing."""
    model = copy.deepcopy(model)
    backbone = model.get("backbone")
    if isinstance(backbone, dict):
        backbone.update({"pretrained": False, "weights_path": None})
    return model


def load_detector(path: str | Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild the ``ClipDetector`` of a training checkpoint (its resolved config travels in
    the checkpoint under :data:`CONFIG_KEY`) and load its weights; returns (detector in eval
    mode, config). Any problem is one :class:`~iodvideo.errors.ConfigError` naming the file."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - corrupt or unsafe file
        raise ConfigError(f"{path}: cannot load checkpoint safely ({err})") from None
    config = ckpt.get(CONFIG_KEY) if isinstance(ckpt, dict) else None
    if config is None and is_original_checkpoint(ckpt):
        return load_original(path, ckpt)
    if not isinstance(config, dict) or "model" not in config:
        raise ConfigError(
            f"{path}: no training config in the checkpoint (key {CONFIG_KEY!r}); only "
            "checkpoints written by `python -m iodvideo.train` (or converted from the authors' "
            "original ones) can be evaluated with ckpt="
        )
    try:
        detector = instantiate(OmegaConf.create(without_initial_weights(config["model"])))
    except Exception as err:  # noqa: BLE001 - a model config this version cannot build
        raise ConfigError(
            f"{path}: its model config cannot be built by this version of iodvideo ({err})"
        ) from None
    if not isinstance(ckpt.get("state_dict"), dict):
        raise ConfigError(f"{path}: no state_dict in the checkpoint")
    prefix = "detector."
    state = {k[len(prefix):]: v for k, v in ckpt["state_dict"].items() if k.startswith(prefix)}
    try:
        detector.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        raise ConfigError(
            f"{path}: weights do not fit the model its config builds (a checkpoint from another "
            f"version of iodvideo?): {' '.join(first[1:2]) or first[0]}"
        ) from None
    return detector.eval(), config


def checkpoint_decode(decode: Mapping[str, Any], config: Mapping[str, Any]) -> DecodeSettings:
    """Decoder settings for a checkpoint: ``mode``/``offset_scale``/``sizes`` left null follow
    what the checkpoint was validated with (its ``evaluation`` section, else its loss: STA head
    iff ``loss.sta``; sizes "frame" for checkpoints from before the option and the authors'),
    so a user's decoding cannot silently disagree with training's."""
    sta = config_value(config, "evaluation.sta", config_value(config, "loss.sta", False))
    scale = config_value(config, "evaluation.offset_scale",
                         config_value(config, "loss.offset_scale", 18.0))
    mode = decode.get("mode")
    offset_scale = decode.get("offset_scale")
    sizes = decode.get("sizes")
    return DecodeSettings(
        mode=str(mode) if mode is not None else ("sta" if sta else "mov"),
        top_n=int(decode.get("top_n", 100)),
        offset_scale=float(offset_scale if offset_scale is not None else scale),
        sizes=str(sizes if sizes is not None else config_value(config, "evaluation.sizes",
                                                               "frame")),
    )


def save_detector_checkpoint(path: str | Path, detector: torch.nn.Module,
                             config: Mapping[str, Any], **extra: Any) -> Path:
    """Write a checkpoint :func:`load_detector` reads (the detector's weights under
    ``detector.``, the run config under :data:`CONFIG_KEY`): a temporary file renamed into
    place, so an interrupted write never leaves a truncated file under the final name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {f"detector.{k}": v.detach().clone() for k, v in detector.state_dict().items()}
    tmp = path.with_name(f".{path.name}.partial")
    torch.save({"state_dict": state, CONFIG_KEY: dict(config), **extra}, tmp)
    tmp.replace(path)
    return path

