"""Train a detector: ``python -m iodvideo.train [overrides]``.

Composes ``conf/train.yaml`` (groups data, backbone, loss, trainer, logger, experiment),
builds every object with Hydra ``instantiate``, fits, prints the final frameAP and writes
``metrics.json`` into the run directory (what ``scripts/collect.py`` reads after a sweep).
Returns the optimised metric so Hydra sweepers can use it. ``--help`` lists the groups.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from iodvideo.allocator import keep_freed_memory
from iodvideo.checkpointing import SafeCheckpointIO
from iodvideo.config import CONFIG_DIR
from iodvideo.errors import exit_on_user_error
from iodvideo.lightning_module import IODLitModule, latest_checkpoint

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"


def train(cfg: DictConfig) -> float | None:
    """Fit ``cfg.model`` on ``cfg.data``; return ``cfg.optimized_metric`` (frameAP, percent)."""
    if cfg.keep_freed_memory:
        keep_freed_memory()  # before the first big tensor, and inherited by forked workers
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()  # missing data fails (or SynthIOD is generated) before any fit
    pl.seed_everything(cfg.seed, workers=True)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    detector = instantiate(cfg.model)
    datamodule.set_context(getattr(detector.backbone, "context_frames", 0))
    module = IODLitModule(
        detector=detector,
        criterion=instantiate(cfg.loss),
        optimizer=instantiate(cfg.optimizer),
        scheduler=instantiate(cfg.scheduler),
        **cfg.evaluation,
        channels_last=cfg.channels_last,
        config=resolved,
    )
    loggers = [instantiate(c) for c in (cfg.logger or {}).values()]
    trainer: pl.Trainer = instantiate(
        cfg.trainer,
        callbacks=[instantiate(c) for c in cfg.callbacks.values() if c is not None],
        logger=loggers or False,
        plugins=[SafeCheckpointIO()],
    )
    for logger in loggers:
        logger.log_hyperparams(resolved)
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.ckpt_path)

    metric = trainer.callback_metrics.get(cfg.optimized_metric)
    value = None if metric is None else float(metric)
    if trainer.is_global_zero:
        write_metrics(cfg, trainer, value)
    if value is None:
        log.warning("%s was not computed (no validation ran)", cfg.optimized_metric)
        return None
    if trainer.is_global_zero:
        print(f"{cfg.optimized_metric} on split {datamodule.split} test clips: {value:.2f}")
    return value


def run_summary(cfg: DictConfig, choices: dict[str, Any] | None = None) -> dict[str, Any]:
    """The settings a results table is grouped by (the paper's ablation axes); ``choices``
    are Hydra's config-group choices (``backbone=tin`` → ``"tin"``)."""
    choices = choices or {}
    backbone = cfg.backbone
    return {
        "backbone": choices.get("backbone"),
        "backbone_model": backbone.get("model_name"),
        "sta": bool(cfg.loss.get("sta", False)),
        "clip_len": int(cfg.data.clip_len),
        "zeta_sq": float(cfg.loss.get("zeta_sq", 4.0)),
        "split": int(cfg.data.split),
        "input_size": int(cfg.data.input_size),
        "seed": int(cfg.seed),
        "experiment": choices.get("experiment"),
    }


def write_metrics(cfg: DictConfig, trainer: pl.Trainer, value: float | None) -> Path | None:
    """``<run dir>/metrics.json``: the optimised metric, every logged scalar, the run's
    ablation settings and the Hydra overrides, in plain JSON."""
    if not HydraConfig.initialized():
        return None
    hydra_cfg = HydraConfig.get()
    scalars = {}
    for key, tensor in trainer.callback_metrics.items():
        number = float(tensor)
        scalars[key] = number if math.isfinite(number) else None
    checkpoint = trainer.checkpoint_callback
    record = {
        "optimized_metric": cfg.optimized_metric,
        "value": value,
        "metrics": scalars,
        "epochs": trainer.current_epoch,
        "global_step": trainer.global_step,
        "config": run_summary(cfg, dict(hydra_cfg.runtime.choices)),
        "overrides": list(hydra_cfg.overrides.task),
        "job_num": hydra_cfg.job.get("num"),
        "best_checkpoint": getattr(checkpoint, "best_model_path", None) or None,
        "last_checkpoint": latest_checkpoint(trainer),
    }
    path = Path(hydra_cfg.runtime.output_dir) / METRICS_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=2, sort_keys=True))
    tmp.replace(path)
    return path


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    with exit_on_user_error():
        return train(cfg)


if __name__ == "__main__":
    main()
