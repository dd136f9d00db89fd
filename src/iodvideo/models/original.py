"""The authors' original checkpoints: recognise an ``STA_Framework`` state dict, say which
detector it is, and map every one of its tensors onto ours.

The original training script saves ``{"epoch", "best", "state_dict", ["optimizer"]}`` whose
state dict (keys ``backbone.*``, ``branch.*``, ``R2D.*``, often prefixed ``module.``) comes
from one of nine backbone classes (protocol §5, §7). The original loads such files
non-strictly, so a wrong mapping would silently leave random weights; here every tensor is
accounted for — mapped onto exactly one of ours with the same shape, or named as unused by
the original's forward — and anything else is one :class:`OriginalCheckpointError` that lists
the keys. Nothing here reads files: :mod:`iodvideo.checkpointing` does.

The backbone-specific part lives on each backbone class (one file per backbone):
``original_matches`` (does a state dict come from it), ``original_prefix``,
``original_renames`` / ``from_original`` (its key map), ``original_unused`` (tensors its
forward never reads) and ``original_options`` (constructor options that reproduce the
original's computation). The neck and the heads are the same in every original file and are
mapped here.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from iodvideo.errors import IODVideoError
from iodvideo.models.registry import BACKBONES

# Marker of a converted model in a config (``original`` node): provenance and the audit.
ORIGINAL_KEY = "original"
# The original's offset ratio: resize // down_ratio // 4 = 288 // 4 // 4 (protocol §5.3).
ORIGINAL_OFFSET_SCALE = 18.0
ORIGINAL_INPUT_SIZE = 288
ORIGINAL_DOWN_RATIO = 4

# Top-level tensors the original builds and never uses in its forward (protocol §5.1).
TOP_LEVEL_UNUSED = {r"^R2D\.": "STA_Framework.R2D, built but never called (protocol §5.1)"}

# The shared neck (protocol §5.2): original name → ours (below ``neck.``).
NECK_NAMES = {
    "norm1": "level2",
    "deconv2.0": "level3.0", "deconv2.1": "level3.1",
    "deconv3.0": "level4.0", "deconv3.1": "level4.1",
    "deconv4.0": "level5.0", "deconv4.1": "level5.1",
    "deconv4.2": "level5.2", "deconv4.3": "level5.3",
    "cat": "fuse.0", "cat_bn": "fuse.1", "cat64": "fuse.3", "cat_bn64": "fuse.4",
}
HEADS = ("hm", "mov", "wh", "sta")


class OriginalCheckpointError(IODVideoError):
    """An original-format checkpoint that cannot be mapped completely and exactly."""


@dataclass(frozen=True)
class OriginalSpec:
    """What an original state dict is, read from its keys and shapes alone."""

    arch: str  # registry name: resnet, tsm, tin, tam, tea, tdn, msnet, i3d, s3d
    clip_len: int  # K (the mov head has 2K outputs)
    model_name: str  # the timm body: resnet50 / resnet101 / res2net50_26w_4s ...
    num_classes: int
    head_conv: int
    wh_head_conv: int
    neck_channels: int
    neck_out: int
    has_sta: bool  # the file holds an STA offset head


@dataclass
class OriginalAudit:
    """Every tensor of the file: mapped (original → ours), or unused (with why)."""

    source: str
    total: int = 0
    mapped: dict[str, str] = field(default_factory=dict)
    unused: dict[str, str] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)  # ours, nothing in the file fills it
    unexpected: list[str] = field(default_factory=list)  # the file's, nothing takes it
    mismatched: list[str] = field(default_factory=list)  # "orig (shape) → ours (shape)"
    fresh: list[str] = field(default_factory=list)  # ours, absent by design (no STA head)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def summary(self) -> str:
        """The audit line, e.g. ``829/829 tensors mapped, 0 missing, 0 unexpected``."""
        line = (f"{len(self.mapped) + len(self.unused)}/{self.total} tensors mapped, "
                f"{len(self.missing)} missing, {len(self.unexpected)} unexpected")
        if self.mismatched:
            line += f", {len(self.mismatched)} of the wrong shape"
        if self.unused:
            groups = sorted({re.sub(r"\.(weight|bias|running_\w+|num_batches_tracked)$", "", k)
                             for k in self.unused})
            line += f" ({len(self.unused)} unused by the original's forward: {', '.join(groups)})"
        if self.fresh:
            line += f"; no STA head in the file: {len(self.fresh)} tensors at init (MOV model)"
        return line

    def as_dict(self) -> dict[str, Any]:
        """Plain data for a checkpoint's config (``original.audit``)."""
        return {"summary": self.summary(), "total": self.total, "mapped": len(self.mapped),
                "unused": sorted(self.unused), "fresh": list(self.fresh)}


def strip_module_prefix(state: Mapping[str, Any]) -> dict[str, Any]:
    """DataParallel's ``module.`` prefix removed (all keys or none carry it)."""
    if state and all(k.startswith("module.") for k in state):
        return {k[len("module."):]: v for k, v in state.items()}
    return dict(state)


def is_original_state(state: Any) -> bool:
    """Whether a state dict has the original ``STA_Framework`` layout."""
    if not isinstance(state, Mapping) or not state:
        return False
    keys = strip_module_prefix(state).keys()
    return any(k.startswith("branch.hm.") for k in keys) and any(
        k.startswith("backbone.") for k in keys)


def is_original_checkpoint(ckpt: Any) -> bool:
    """An original training-script file: ``{"epoch", "state_dict", ...}`` (or a bare state
    dict) with the ``STA_Framework`` keys, and none of iodvideo's own config."""
    if not isinstance(ckpt, Mapping):
        return False
    state = ckpt.get("state_dict", ckpt)
    return is_original_state(state)


def _shape(state: Mapping[str, torch.Tensor], key: str) -> tuple[int, ...]:
    if key not in state:
        raise OriginalCheckpointError(f"no {key!r} in the state dict")
    return tuple(state[key].shape)


def describe_original(state: Mapping[str, torch.Tensor], source: str = "checkpoint"
                      ) -> OriginalSpec:
    """The backbone, K, widths and head set of an original state dict, from its keys."""
    state = strip_module_prefix(state)
    shapes = {k: tuple(v.shape) for k, v in state.items() if torch.is_tensor(v)}
    found = [name for name, cls in BACKBONES.items()
             if getattr(cls, "original_matches", None) and cls.original_matches(shapes)]
    if len(found) != 1:
        what = "no backbone" if not found else f"several backbones ({', '.join(found)})"
        raise OriginalCheckpointError(
            f"{source}: an original-format state dict, but its keys fit {what} of "
            f"{', '.join(sorted(BACKBONES))} (first keys: {sorted(shapes)[:4]})")
    arch = found[0]
    try:
        mov_out = _shape(state, "branch.mov.2.weight")[0]
        hm_hidden, hm_in = _shape(state, "branch.hm.0.weight")[:2]
        num_classes = _shape(state, "branch.hm.2.weight")[0]
        wh_hidden = _shape(state, "branch.wh.0.weight")[0]
        prefix = BACKBONES[arch].original_prefix
        neck_channels, neck_in = _shape(state, f"{prefix}cat.weight")[:2]
        neck_out = _shape(state, f"{prefix}cat64.weight")[0]
    except OriginalCheckpointError as err:
        raise OriginalCheckpointError(f"{source}: {err} (an incomplete original file?)"
                                      ) from None
    if mov_out % 2 or hm_in != neck_out * (mov_out // 2):
        raise OriginalCheckpointError(
            f"{source}: head widths do not agree (mov has {mov_out} outputs, hm takes "
            f"{hm_in} channels of {neck_out} per frame)")
    model_name = BACKBONES[arch].original_model_name(shapes)
    return OriginalSpec(
        arch=arch, clip_len=mov_out // 2, model_name=model_name, num_classes=num_classes,
        head_conv=hm_hidden, wh_head_conv=wh_hidden, neck_channels=neck_channels,
        neck_out=neck_out, has_sta="branch.sta.0.weight" in state)


def original_model_config(spec: OriginalSpec) -> dict[str, Any]:
    """The ``model`` node (``ClipDetector``) that computes what the original did: legacy
    layout, the original's widths, the paper's input (no motion channels)."""
    cls = BACKBONES[spec.arch]
    backbone: dict[str, Any] = {
        "_target_": f"{cls.__module__}.{cls.__qualname__}", "_convert_": "all",
        "model_name": spec.model_name, "pretrained": False, "weights_path": None,
        "model_kwargs": {}, **dict(cls.original_options)}
    if "clip_len" in inspect.signature(cls.__init__).parameters:  # temporal backbones: K
        backbone["clip_len"] = spec.clip_len
    return {
        "_target_": "iodvideo.models.detector.ClipDetector",
        "backbone": backbone,
        "clip_len": spec.clip_len,
        "motion_input": False,
        "neck": {"_target_": "iodvideo.models.neck.FusionNeck", "_partial_": True,
                 "channels": spec.neck_channels, "out_channels": spec.neck_out},
        "heads": {"_target_": "iodvideo.models.heads.ClipHeads", "_partial_": True,
                  "head_conv": spec.head_conv, "wh_head_conv": spec.wh_head_conv,
                  "num_classes": spec.num_classes},
    }


def _unused_reason(key: str, backbone_cls: type) -> str | None:
    for pattern, why in TOP_LEVEL_UNUSED.items():
        if re.search(pattern, key):
            return why
    prefix = backbone_cls.original_prefix
    if key.startswith(prefix):
        for pattern, why in dict(backbone_cls.original_unused).items():
            if re.search(pattern, key[len(prefix):]):
                return why
    return None


def map_original_state(detector: torch.nn.Module, state: Mapping[str, torch.Tensor],
                       spec: OriginalSpec, source: str = "checkpoint"
                       ) -> tuple[dict[str, torch.Tensor], OriginalAudit]:
    """The detector's state dict filled from an original one, and the audit.

    Raises :class:`OriginalCheckpointError` naming the keys when anything is missing,
    unexpected or of the wrong shape: never a partial load."""
    state = {k: v for k, v in strip_module_prefix(state).items() if torch.is_tensor(v)}
    audit = OriginalAudit(source=source, total=len(state))
    backbone = detector.backbone
    cls = type(backbone)
    remaining = dict(state)
    for key in list(remaining):
        why = _unused_reason(key, cls)
        if why is not None:
            audit.unused[key] = why
            del remaining[key]
    # ours → (original, tensor); the original is a tuple of names where a backbone merges
    # several original tensors into one of ours (TAM's three per-channel scalars)
    taken: dict[str, tuple[str | tuple[str, ...], torch.Tensor]] = {}
    for key in list(remaining):  # heads
        head, _, rest = key.removeprefix("branch.").partition(".")
        if key.startswith("branch.") and head in HEADS:
            taken[f"heads.{head}.{rest}"] = (key, remaining.pop(key))
    prefix = cls.original_prefix
    for key in list(remaining):  # neck
        if not key.startswith(prefix):
            continue
        module, _, leaf = key[len(prefix):].rpartition(".")
        if module in NECK_NAMES:
            taken[f"neck.{NECK_NAMES[module]}.{leaf}"] = (key, remaining.pop(key))
    inner = {k[len(prefix):]: v for k, v in remaining.items() if k.startswith(prefix)}
    for own, (orig, tensor) in backbone.from_original(inner).items():
        names = (orig,) if isinstance(orig, str) else tuple(orig)
        full = tuple(prefix + name for name in names)
        taken[f"backbone.{own}"] = (full[0] if len(full) == 1 else full, tensor)
        for name in full:
            remaining.pop(name, None)
    own_state = detector.state_dict()
    out: dict[str, torch.Tensor] = {}
    for own, (orig, tensor) in taken.items():
        origs = (orig,) if isinstance(orig, str) else orig
        shown = " + ".join(origs)
        if own not in own_state:
            audit.unexpected.append(f"{shown} (→ {own}, not in the model)")
        elif tuple(tensor.shape) != tuple(own_state[own].shape):
            audit.mismatched.append(f"{shown} {tuple(tensor.shape)} → {own} "
                                    f"{tuple(own_state[own].shape)}")
        else:
            out[own] = tensor.to(own_state[own].dtype)
            audit.mapped.update(dict.fromkeys(origs, own))
    audit.unexpected += sorted(remaining)
    for own in own_state:
        if own in out or any(own == t for t in taken):
            continue
        if not spec.has_sta and own.startswith("heads.sta."):
            audit.fresh.append(own)
            out[own] = own_state[own]
        else:
            audit.missing.append(own)
    if not audit.ok:
        raise OriginalCheckpointError(f"{source}: {audit.summary()} — " + _problems(audit))
    return out, audit


def _problems(audit: OriginalAudit, shown: int = 6) -> str:
    parts = []
    for name, keys in (("missing from the file", audit.missing),
                       ("not understood", audit.unexpected),
                       ("of the wrong shape", audit.mismatched)):
        if keys:
            more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
            parts.append(f"{name}: {', '.join(keys[:shown])}{more}")
    return "; ".join(parts) + "; nothing was loaded"
