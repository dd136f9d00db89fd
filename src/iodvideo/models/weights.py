"""Loading ImageNet weights from a file (a local one, or the one ``pretrained=true`` fetched).

The reference loads every checkpoint non-strictly and silently, which hid that several of its
backbones received no ImageNet weights at all (protocol §5.6). Here every load returns a
:class:`LoadAudit` (tensors loaded, inflated 2D→3D, missing, unexpected, shape-mismatched),
logs it, and fails when nothing at all matched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from iodvideo.errors import ConfigError
from iodvideo.models.hub import fetch_imagenet_weights

log = logging.getLogger(__name__)

KeyMap = Callable[[str], "str | None"]


def resolve_pretrained(
    pretrained: bool | str, weights_path: str | None, model_name: str | None = None
) -> Path | None:
    """Path of the weights file to load, or None for random init.

    ``pretrained`` may itself be a path (``backbone.pretrained=/path/to/file``). A bare
    ``pretrained=true`` asks for timm's ImageNet weights of ``model_name``: from the Hugging
    Face cache, else downloaded into it (:mod:`iodvideo.models.hub`); offline that is one
    error line saying how to pass a local file instead.
    """
    if isinstance(pretrained, str | Path) and not isinstance(pretrained, bool):
        if str(pretrained).lower() in ("", "false", "none", "null"):
            pretrained = False
        elif str(pretrained).lower() == "true":
            pretrained = True
        else:
            weights_path = weights_path or str(pretrained)
            pretrained = False
    if weights_path:
        path = Path(weights_path).expanduser()
        if not path.is_file():
            raise ConfigError(f"backbone.weights_path={path}: file not found")
        return path
    if pretrained:
        if model_name is None:
            raise ConfigError("backbone.pretrained=true needs the backbone's model_name")
        return fetch_imagenet_weights(model_name)
    return None


@dataclass
class LoadAudit:
    """What a checkpoint load did, tensor by tensor (names are the model's own keys).

    ``missing`` are model tensors left at their initialisation (new temporal modules, or keys
    the checkpoint lacks); ``unexpected`` are checkpoint tensors nothing used (e.g. ``fc``).
    """

    source: str
    loaded: list[str] = field(default_factory=list)
    inflated: list[str] = field(default_factory=list)
    derived: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{self.source}: loaded {len(self.loaded)} tensors ({len(self.inflated)} inflated "
            f"2D→3D, {len(self.derived)} derived), {len(self.missing)} left at init, "
            f"{len(self.unexpected)} unused, {len(self.mismatched)} shape-mismatched"
        )


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Tensors of a timm/torchvision checkpoint (.pth/.pt/.bin or .safetensors), prefixes cleaned.

    Accepts a bare state dict or one nested under ``state_dict``/``model``; strips the
    ``module.`` prefix DataParallel checkpoints carry.
    """
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
    for nested in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(nested), dict):
            state = state[nested]
    if not isinstance(state, dict):
        raise ConfigError(f"{path}: not a state dict (got {type(state).__name__})")
    return {k.removeprefix("module."): v for k, v in state.items() if torch.is_tensor(v)}


def inflate_2d_to_3d(weight: torch.Tensor, time: int, divide: bool = True) -> torch.Tensor:
    """(O, I, kh, kw) → (O, I, time, kh, kw), repeated along time.

    Dividing by the temporal kernel keeps a 3D conv's response to a static clip equal to the 2D
    conv's (the I3D recipe); the reference copies without dividing (§5.5.7), which makes the
    first activations ~``time``× larger — ``divide=False`` keeps that for parity.
    """
    inflated = weight.unsqueeze(2).repeat(1, 1, time, 1, 1)
    return inflated / time if divide else inflated


def load_local_weights(
    model: nn.Module,
    path: Path,
    key_map: KeyMap | None = None,
    inflate_divide: bool = True,
) -> LoadAudit:
    """Copy matching tensors from ``path`` into ``model`` and return the audit.

    ``key_map(own_key)`` names the checkpoint tensor that should fill ``own_key`` (None: no
    checkpoint tensor is expected, e.g. a new temporal module); identity by default. Loading is
    non-strict because detection backbones drop the classifier (``fc``), but nothing is silent:
    the audit is logged and stored, and a load where no tensor matches is an error (a prefix
    mismatch, reference §5.6, would otherwise leave the network at random init).
    """
    state = read_state_dict(path)
    key_map = key_map or (lambda k: k)
    own = model.state_dict()
    audit = LoadAudit(source=str(path))
    usable: dict[str, torch.Tensor] = {}
    used: set[str] = set()
    for key, target in own.items():
        src = key_map(key)
        if src is None or src not in state:
            audit.missing.append(key)
            continue
        tensor = state[src]
        if tensor.shape == target.shape:
            usable[key] = tensor
            audit.loaded.append(key)
        elif target.dim() == 5 and tensor.dim() == 4 and _inflatable(tensor, target):
            usable[key] = inflate_2d_to_3d(tensor, target.shape[2], divide=inflate_divide)
            audit.loaded.append(key)
            audit.inflated.append(key)
        else:
            audit.mismatched.append(key)
            audit.missing.append(key)
            continue
        used.add(src)
    audit.unexpected = sorted(set(state) - used)
    if not usable:
        raise ConfigError(
            f"{path}: no tensor matches the backbone's parameter names/shapes "
            f"(checkpoint keys look like {sorted(state)[:3]}, model keys like {sorted(own)[:3]})"
        )
    model.load_state_dict(usable, strict=False)
    log.info(audit.summary())
    return audit


def _inflatable(tensor: torch.Tensor, target: torch.Tensor) -> bool:
    return tensor.shape[:2] == target.shape[:2] and tensor.shape[2:] == target.shape[3:]
