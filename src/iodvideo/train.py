"""Train a detector: ``python -m iodvideo.train [overrides]``.

Composes ``conf/train.yaml`` (groups data, backbone, model, loss, scheduler, trainer, callbacks,
logger, paths, hydra, experiment),
builds every object with Hydra ``instantiate``, fits, prints the final frameAP and writes
``metrics.json`` into the run directory (what ``scripts/collect.py`` reads after a sweep).
Returns the optimised metric so Hydra sweepers can use it. ``--help`` lists the groups.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import hydra
import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict

from iodvideo.allocator import keep_freed_memory
from iodvideo.checkpointing import LABELS_KEY, SafeCheckpointIO
from iodvideo.config import CONFIG_DIR
from iodvideo.errors import ConfigError, exit_on_user_error
from iodvideo.hardware import describe_machine, describe_memory_format, describe_precision
from iodvideo.training.init_from import adopt_initial_model
from iodvideo.training.lightning_module import IODLitModule, NonFiniteLossError, latest_checkpoint

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.json"


def train(cfg: DictConfig) -> float | None:
    """Fit ``cfg.model`` on ``cfg.data``; return ``cfg.optimized_metric`` (frameAP, percent)."""
    started = time.monotonic()
    if cfg.keep_freed_memory:
        keep_freed_memory()  # before the first big tensor, and inherited by forked workers
    initial = adopt_initial_model(cfg)  # init_from: the file's model, K and input size
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()  # missing data fails (or SynthIOD is generated) before any fit
    set_num_classes(cfg, datamodule)
    pl.seed_everything(cfg.seed, workers=True)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    # the class names travel in the checkpoint with the config: what predict/eval name
    # detections by (absent in checkpoints of versions before classes: one class)
    resolved[LABELS_KEY] = list(datamodule.labels)
    if initial is not None:  # where the weights came from, with the load's audit
        resolved.update({k: v for k, v in initial[1].items() if v is not None})
    detector = initial[0] if initial is not None else instantiate(cfg.model)
    datamodule.set_context(detector.context_frames)
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
    if trainer.is_global_zero:
        print(hardware_summary(cfg), flush=True)
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.ckpt_path)
    except NonFiniteLossError as err:
        if not in_sweep():
            raise  # a single run ends with the error line (exit status 2)
        # one diverged job must not cost a sweep its remaining jobs: record it and go on
        log.error("%s", err)
        if trainer.is_global_zero:
            write_metrics(cfg, trainer, None, logged_scalars(trainer), None,
                          wall_s=time.monotonic() - started, diverged=str(err))
        return None

    fitted = logged_scalars(trainer)  # before trainer.test resets the logged metrics
    value = fitted.get(cfg.optimized_metric)
    test, tested = (test_selected(trainer, module, datamodule) if cfg.test_after_fit
                    else ({}, None))
    if trainer.is_global_zero:
        write_metrics(cfg, trainer, value, {**fitted, **test}, tested,
                      wall_s=time.monotonic() - started)
    if value is None:
        planned = cfg.trainer.get("limit_val_batches") == 0  # validation off by design
        (log.info if planned else log.warning)(
            "%s was not computed (no validation ran)", cfg.optimized_metric)
    elif trainer.is_global_zero:
        print(f"{cfg.optimized_metric} on {validation_videos(datamodule)}: {value:.2f}")
    if test and trainer.is_global_zero:
        print(test_summary(test, datamodule, tested))
    return value


def set_num_classes(cfg: DictConfig, datamodule: Any) -> None:
    """Fill ``model.heads.num_classes`` from the data's labels when it is null; a number that
    disagrees with the data is a :class:`~iodvideo.errors.ConfigError` (a heatmap channel per
    class: a different count cannot be trained on these targets)."""
    heads = cfg.model.heads
    wanted, found = heads.get("num_classes"), int(datamodule.num_classes)
    if wanted is None:
        with open_dict(heads):
            heads.num_classes = found
    elif int(wanted) != found:
        raise ConfigError(
            f"model.heads.num_classes={wanted} but {datamodule.annotations_path} has {found} "
            f"class(es) {datamodule.labels}; set model.heads.num_classes=null to follow the data"
        )


def validation_videos(datamodule: Any) -> str:
    """What validation (and so checkpoint selection) ran on, in words: the seeded held-out
    part of the split's training videos, the videos named by ``data.videos.val``, the named
    training videos themselves, or the test videos (``data.val_fraction=0``)."""
    count = len(datamodule.val_videos())
    source = getattr(datamodule, "_validation_source", lambda: None)()
    if source == "held":
        return f"split {datamodule.split} validation videos ({count} held-out training videos)"
    if source == "named":
        return f"the {count} validation video(s) named by data.videos.val"
    if source == "train":
        return f"the {count} training video(s) named by data.videos.train (nothing held out)"
    if source == "test":
        return f"split {datamodule.split} test videos ({count}, data.val_fraction=0)"
    return f"{count} validation video(s)"


def test_selected(
    trainer: pl.Trainer, module: IODLitModule, datamodule: Any
) -> tuple[dict[str, float], str | None]:
    """Score the test videos once, with the checkpoint chosen on validation (the best by
    ``optimized_metric``; the final weights when no callback ranks checkpoints): test metrics
    in percent, and the checkpoint used (None: the final weights)."""
    best = best_checkpoint(trainer)  # None (nothing ranks checkpoints): the final weights
    trainer.test(module, datamodule=datamodule, ckpt_path=best, verbose=False)
    test = {k: v for k, v in logged_scalars(trainer).items() if k.startswith("test/")}
    return test, best


def in_sweep() -> bool:
    """Whether this process runs one job of a Hydra multirun (``-m``)."""
    return HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN


def best_checkpoint(trainer: pl.Trainer) -> str | None:
    """The best checkpoint of the first callback that ranks checkpoints by a monitored metric;
    None where none does (no validation, e.g. the CPU results tables) or nothing was saved."""
    ranked = [c for c in trainer.checkpoint_callbacks if getattr(c, "monitor", None)]
    return (ranked[0].best_model_path or None) if ranked else None


def logged_scalars(trainer: pl.Trainer) -> dict[str, float | None]:
    """Every scalar the run logged so far (non-finite values as None, for plain JSON)."""
    scalars: dict[str, float | None] = {}
    for key, tensor in trainer.callback_metrics.items():
        number = float(tensor)
        scalars[key] = number if math.isfinite(number) else None
    return scalars


def test_summary(test: dict[str, float], datamodule: Any, checkpoint: str | None) -> str:
    """One line: the test metrics (AP@0.5, and on clear / vague videos beside it)."""
    chosen = (f"{Path(checkpoint).name} chosen on validation" if checkpoint
              else "the final weights")
    shown = (("AP@0.5", "AP@0.5"), ("clear", "AP@0.5_clear"), ("vague", "AP@0.5_vague"),
             ("AP@0.75", "AP@0.75"), ("AP@0.5:0.95", "AP@0.5:0.95"))
    values = " | ".join(f"{label} {test[f'test/{key}']:.2f}" for label, key in shown
                        if f"test/{key}" in test)
    return (f"test on split {datamodule.split} ({len(datamodule.test_videos())} videos, "
            f"{chosen}): {values}")


def hardware_summary(cfg: DictConfig) -> str:
    """Three lines: the machine, the precision and the memory format training runs with, each
    with the reason (the hardware rule, or the override that set it)."""
    trainer_cfg = cfg.trainer
    chosen = OmegaConf.is_interpolation(trainer_cfg, "precision")
    precision = describe_precision(trainer_cfg.precision, trainer_cfg.accelerator, chosen)
    return (
        f"machine: {describe_machine()}\n"
        f"precision: {precision}\n"
        f"memory format: {describe_memory_format(bool(cfg.channels_last))}"
    )


def run_summary(cfg: DictConfig, choices: dict[str, Any] | None = None) -> dict[str, Any]:
    """The settings a results table is grouped by (the paper's ablation axes); ``choices``
    are Hydra's config-group choices (``backbone=tin`` → ``"tin"``)."""
    choices = choices or {}
    backbone = cfg.backbone
    return {
        "backbone": choices.get("backbone"),
        "backbone_model": backbone.get("model_name"),
        "sta": bool(cfg.loss.get("sta", False)),
        "motion_input": bool(cfg.model.get("motion_input", False)),
        "legacy_layout": bool(backbone.get("legacy_layout", False)),
        "clip_len": int(cfg.data.clip_len),
        "zeta_sq": float(cfg.loss.get("zeta_sq", 4.0)),
        "split": int(cfg.data.split),
        "input_size": int(cfg.data.input_size),
        "seed": int(cfg.seed),
        "experiment": choices.get("experiment"),
    }


def write_metrics(
    cfg: DictConfig,
    trainer: pl.Trainer,
    value: float | None,
    scalars: dict[str, float | None],
    tested: str | None = None,
    wall_s: float | None = None,
    diverged: str | None = None,
) -> Path | None:
    """``<run dir>/metrics.json``: the optimised (validation) metric, every logged scalar
    (``test/*``: the test videos scored with the checkpoint chosen on validation,
    ``test_checkpoint``), the run's ablation settings, the Hydra overrides and the run's wall
    time (``wall_s``: data, fitting and test, from the start of ``train``), in plain JSON.
    ``diverged``: the non-finite-loss message of a sweep job that stopped (else null)."""
    if not HydraConfig.initialized():
        return None
    hydra_cfg = HydraConfig.get()
    record = {
        "optimized_metric": cfg.optimized_metric,
        "value": value,
        "metrics": scalars,
        "epochs": trainer.current_epoch,
        "global_step": trainer.global_step,
        "config": run_summary(cfg, dict(hydra_cfg.runtime.choices)),
        "overrides": list(hydra_cfg.overrides.task),
        "job_num": hydra_cfg.job.get("num"),
        "best_checkpoint": best_checkpoint(trainer),
        "last_checkpoint": latest_checkpoint(trainer),
        "test_checkpoint": tested,
        "wall_s": None if wall_s is None else round(wall_s, 1),
        "diverged": diverged,
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
