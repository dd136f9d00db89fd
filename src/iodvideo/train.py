"""Train a detector: ``python -m iodvideo.train [overrides]``.

Composes ``conf/train.yaml`` (groups data, backbone, loss, trainer, logger, experiment),
builds every object with Hydra ``instantiate``, fits, and prints the final frameAP. Returns
the optimised metric so Hydra sweepers can use it. ``--help`` lists the config groups.
"""

from __future__ import annotations

import logging
import sys

import hydra
import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from iodvideo.checkpointing import SafeCheckpointIO
from iodvideo.config import CONFIG_DIR
from iodvideo.errors import IODVideoError
from iodvideo.lightning_module import IODLitModule

log = logging.getLogger(__name__)


def train(cfg: DictConfig) -> float | None:
    """Fit ``cfg.model`` on ``cfg.data``; return ``cfg.optimized_metric`` (frameAP, percent)."""
    datamodule = instantiate(cfg.data)
    datamodule.prepare_data()  # missing data fails (or SynthIOD is generated) before any fit
    pl.seed_everything(cfg.seed, workers=True)
    resolved = OmegaConf.to_container(cfg, resolve=True)
    module = IODLitModule(
        detector=instantiate(cfg.model),
        criterion=instantiate(cfg.loss),
        optimizer=instantiate(cfg.optimizer),
        scheduler=instantiate(cfg.scheduler),
        **cfg.evaluation,
        config=resolved,
    )
    loggers = [instantiate(c) for c in (cfg.logger or {}).values()]
    trainer: pl.Trainer = instantiate(
        cfg.trainer,
        callbacks=[instantiate(c) for c in cfg.callbacks.values()],
        logger=loggers or False,
        plugins=[SafeCheckpointIO()],
    )
    for logger in loggers:
        logger.log_hyperparams(resolved)
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.ckpt_path)

    metric = trainer.callback_metrics.get(cfg.optimized_metric)
    if metric is None:
        log.warning("%s was not computed (no validation ran)", cfg.optimized_metric)
        return None
    value = float(metric)
    print(f"{cfg.optimized_metric} on split {datamodule.split} test clips: {value:.2f}")
    return value


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    try:
        return train(cfg)
    except Exception as err:  # bad input: one clear message, no stack trace
        user_error = find_user_error(err)
        if user_error is None:
            raise
        print(f"error: {user_error}", file=sys.stderr)
        sys.exit(2)


def find_user_error(err: BaseException) -> IODVideoError | None:
    """The IODVideoError behind ``err``, if any: Hydra's ``instantiate`` and DataLoader
    workers wrap the exceptions they see, and the user should read the original message."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        if isinstance(current, IODVideoError):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


if __name__ == "__main__":
    main()
