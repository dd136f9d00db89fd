"""Reading the authors' released checkpoints (``TEA_STA_K8S1_model_last.pth`` and any file the
original training script writes, for all nine backbones) into an iodvideo detector.

The file is recognised by its contents (``STA_Framework`` keys, no iodvideo config), read
with ``weights_only=True`` (a pickle with code in it is refused by torch), described from its
keys (:func:`iodvideo.models.original.describe_original`) and mapped tensor by tensor with an
audit; the detector computes what the original did — legacy layout, ResNet-50 depth, the
original's preprocessing (BGR, 288 × 288, CenterNet's COCO mean/std: :mod:`iodvideo.data.
transforms`) and decoding (offset scale 18). The config returned here records all of that, so
a checkpoint or export made from the model carries it on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from iodvideo.errors import ConfigError
from iodvideo.models.original import (
    ORIGINAL_DOWN_RATIO,
    ORIGINAL_INPUT_SIZE,
    ORIGINAL_KEY,
    ORIGINAL_OFFSET_SCALE,
    OriginalAudit,
    OriginalCheckpointError,
    OriginalSpec,
    describe_original,
    is_original_checkpoint,
    map_original_state,
    original_model_config,
    strip_module_prefix,
)

log = logging.getLogger(__name__)

__all__ = ["is_original_checkpoint", "load_original", "original_state", "read_original"]


def original_state(ckpt: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The tensors of an original file (``state_dict`` of the training script's dict, or the
    dict itself), ``module.`` stripped; the optimizer state is ignored."""
    state = ckpt.get("state_dict", ckpt)
    return {k: v for k, v in strip_module_prefix(state).items() if torch.is_tensor(v)}


def _all_zero(state: Mapping[str, torch.Tensor], head: str) -> bool | None:
    biases = [v for k, v in state.items()
              if k.startswith(f"branch.{head}.") and k.endswith(".bias")]
    return None if not biases else all(not bool(b.abs().sum()) for b in biases)


def trained_offset_head(state: Mapping[str, torch.Tensor], name: str) -> tuple[str, str]:
    """Which head decodes the boxes (``mov`` or ``sta``) and why.

    The original builds both heads and trains one; the other keeps its zero-initialised
    biases (protocol §5.3), which tells them apart. Where both or neither look trained (the
    test fixtures' synthetic weights), the released files' names say it (``TEA_STA_…``);
    else MOV, the paper's default loss."""
    sta_zero, mov_zero = _all_zero(state, "sta"), _all_zero(state, "mov")
    if sta_zero is None:
        return "mov", "the file has no STA head"
    if sta_zero and not mov_zero:
        return "mov", "the STA head is untrained (zero biases)"
    if mov_zero and not sta_zero:
        return "sta", "the MOV head is untrained (zero biases)"
    if re.search(r"(^|[_\W])STA([_\W]|$)", name, re.IGNORECASE):
        return "sta", f"both heads look trained; the file name {name!r} says STA"
    if re.search(r"(^|[_\W])MOV([_\W]|$)", name, re.IGNORECASE):
        return "mov", f"both heads look trained; the file name {name!r} says MOV"
    return "mov", "both heads look trained and the name says neither: MOV, the paper's default"


def original_run_config(spec: OriginalSpec, audit: OriginalAudit, path: Path,
                        mode: str, why: str, epoch: Any = None) -> dict[str, Any]:
    """The run config an iodvideo checkpoint of this model would carry: model, the
    original's preprocessing (data) and decoding (loss/evaluation), and the provenance."""
    sta = mode == "sta"
    return {
        "model": original_model_config(spec),
        "data": {"input_size": ORIGINAL_INPUT_SIZE, "down_ratio": ORIGINAL_DOWN_RATIO,
                 "clip_len": spec.clip_len},
        "loss": {"sta": sta, "offset_scale": ORIGINAL_OFFSET_SCALE},
        "evaluation": {"sta": sta, "offset_scale": ORIGINAL_OFFSET_SCALE},
        ORIGINAL_KEY: {
            "file": path.name, "arch": spec.arch, "model_name": spec.model_name,
            "clip_len": spec.clip_len, "epoch": epoch if isinstance(epoch, int) else None,
            "decode_mode": mode, "decode_mode_reason": why, "audit": audit.as_dict(),
            "preprocessing": "BGR, 288x288 bilinear, CenterNet COCO mean/std (protocol §3.6)",
        },
    }


def read_original(path: str | Path) -> dict[str, Any]:
    """The file's contents, loaded with ``weights_only=True``; one error line if it cannot be
    read safely or is not an original checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: checkpoint not found")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - corrupt, or a pickle that is not plain data
        raise ConfigError(f"{path}: cannot load checkpoint safely ({err})") from None
    if not is_original_checkpoint(ckpt):
        raise ConfigError(f"{path}: not an original IOD-Video checkpoint (no STA_Framework "
                          "keys: backbone.*, branch.hm.*)")
    return ckpt


def load_original(path: str | Path, ckpt: Mapping[str, Any] | None = None,
                  expected_backbone: str | None = None
                  ) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Build the detector an original checkpoint holds and load every tensor into it;
    returns (detector in eval mode, run config). Logs the audit line. ``expected_backbone``
    (a registry name) that the file's keys contradict is an error."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    path = Path(path)
    ckpt = read_original(path) if ckpt is None else ckpt
    state = original_state(ckpt)
    try:
        spec = describe_original(state, source=str(path))
        if expected_backbone is not None and expected_backbone != spec.arch:
            raise OriginalCheckpointError(
                f"{path}: backbone {expected_backbone!r} was asked for, but the file holds an "
                f"original {spec.arch!r} model (read from its keys)")
        model_cfg = original_model_config(spec)
        detector = instantiate(OmegaConf.create(model_cfg))
        mapped, audit = map_original_state(detector, state, spec, source=str(path))
    except OriginalCheckpointError as err:
        raise ConfigError(str(err)) from None
    detector.load_state_dict(mapped, strict=True)
    mode, why = trained_offset_head(state, path.name)
    config = original_run_config(spec, audit, path, mode, why, ckpt.get("epoch"))
    log.info("%s: original %s checkpoint (%s, K=%d): %s; decoding %s (%s)", path.name,
             spec.arch, spec.model_name, spec.clip_len, audit.summary(), mode, why)
    return detector.eval(), config
