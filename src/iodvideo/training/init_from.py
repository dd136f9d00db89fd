"""``python -m iodvideo.train init_from=<file>``: fine-tune from a trained detector.

The file is one of the authors' original checkpoints (``TEA_STA_K8S1_model_last.pth``, any of
the nine backbones) or an iodvideo checkpoint (ours, or one ``convert_checkpoint`` wrote). Its
model is what gets trained, so the run's ``model``/``backbone`` nodes become the file's (a
``backbone=`` given on the command line that disagrees is an error), ``data.clip_len`` follows
the file's K and ``data.input_size`` its input size unless the command line sets one. Every
tensor is loaded (the original format through its audit, ours strictly); the audit and the
file's provenance travel in the run's config, so every checkpoint of the fine-tuned run says
where it started.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from iodvideo.checkpointing import config_value, load_detector
from iodvideo.errors import ConfigError
from iodvideo.models.original import ORIGINAL_KEY
from iodvideo.models.registry import backbone_facts

log = logging.getLogger(__name__)

INIT_KEY = "init_from"


def command_line_overrides() -> list[str]:
    """The run's command-line overrides (empty outside a Hydra run)."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return []
    return list(HydraConfig.get().overrides.task)


def _given(overrides: list[str], key: str) -> str | None:
    for item in overrides:
        name, _, value = item.lstrip("+~").partition("=")
        if name == key:
            return value
    return None


def adopt_initial_model(cfg: DictConfig, overrides: list[str] | None = None
                        ) -> tuple[torch.nn.Module, dict[str, Any]] | None:
    """Load ``cfg.init_from`` and make ``cfg`` describe its model; returns (detector, the
    record to keep in the run config) or None when ``init_from`` is unset."""
    source = cfg.get(INIT_KEY)
    if not source:
        return None
    overrides = command_line_overrides() if overrides is None else overrides
    detector, config = load_detector(Path(str(source)))
    arch = backbone_facts(detector.backbone).name
    asked = _given(overrides, "backbone")
    if asked is not None and asked != arch:
        raise ConfigError(f"init_from={source}: holds a {arch!r} model but backbone={asked} "
                          "was given; drop backbone= (the file decides) or pick another file")
    model = OmegaConf.create(config["model"])
    with open_dict(cfg):
        cfg.backbone = model.backbone
        model.backbone = "${backbone}"
        cfg.model = model
        clip_len = int(detector.clip_len)
        if int(cfg.data.clip_len) != clip_len:
            log.info("data.clip_len set to %d, the K of %s", clip_len, source)
            cfg.data.clip_len = clip_len
        size = config_value(config, "data.input_size")
        if size is not None and _given(overrides, "data.input_size") is None:
            if int(cfg.data.input_size) != int(size):
                log.info("data.input_size set to %d, the input size of %s", size, source)
            cfg.data.input_size = int(size)
    original = config.get(ORIGINAL_KEY)
    total = sum(1 for _ in detector.state_dict())
    audit = (original["audit"]["summary"] if original
             else f"{total}/{total} tensors loaded (strict)")
    print(f"init_from {source}: {arch} model, K={detector.clip_len}; {audit}", flush=True)
    record = {"file": str(source), "arch": arch, "audit": audit}
    return detector.train(), {INIT_KEY: record, ORIGINAL_KEY: original}
