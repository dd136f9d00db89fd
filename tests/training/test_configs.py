"""Config composition: the paper schedule, the ablation sweeps and the cluster launchers."""

import importlib

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from iodvideo.config import CONFIG_DIR


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose("train", overrides=list(overrides), return_hydra_config=True)


def _importable(target: str) -> object:
    module, name = target.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def test_paper_experiment_is_the_reference_schedule():
    cfg = _compose("experiment=paper", "data.root=/data/TLGDM")
    assert cfg.hydra.runtime.choices["backbone"] == "tea"
    assert cfg.optimizer._target_ == "torch.optim.Adam"
    assert (cfg.optimizer.lr, cfg.optimizer.weight_decay) == (5e-4, 0.0)
    assert cfg.scheduler._target_ == "torch.optim.lr_scheduler.MultiStepLR"
    assert set(cfg.scheduler) == {"_target_", "_partial_", "milestones", "gamma"}
    assert list(cfg.scheduler.milestones) == [6, 8] and cfg.scheduler.gamma == 0.1
    assert cfg.model.motion_input is False  # the paper's input
    assert cfg.trainer.max_epochs == 12 and cfg.trainer.limit_train_batches is None
    assert (cfg.data.batch_size, cfg.data.clip_len, cfg.data.input_size) == (16, 8, 288)
    assert cfg.loss.sta and (cfg.loss.zeta_sq, cfg.loss.sta_lambda) == (4.0, 0.5)
    # one offset scale for the loss and the validation decoder
    assert cfg.loss.offset_scale == cfg.evaluation.offset_scale == 18.0
    assert cfg.evaluation.sta is True


def test_paper_concat_is_the_frame_level_baseline_on_the_paper_schedule():
    cfg = _compose("experiment=paper_concat", "data.root=/data/TLGDM")
    assert cfg.hydra.runtime.choices["backbone"] == "resnet"
    assert cfg.backbone.model_name == "resnet50" and cfg.model.motion_input is False
    assert cfg.optimizer.lr == 5e-4 and list(cfg.scheduler.milestones) == [6, 8]
    assert cfg.trainer.max_epochs == 12


def test_cpu_default_is_motion_input_with_a_cosine_over_the_time_cap():
    cfg = _compose()
    assert cfg.model.motion_input is True
    assert cfg.scheduler._target_ == "iodvideo.schedules.WarmupCosineLR"
    assert cfg.scheduler.time_budget == cfg.trainer.max_time  # anneals within the cap
    _importable(cfg.scheduler._target_)


def test_loss_switch_drives_the_decoder():
    cfg = _compose("loss.sta=true", "loss.offset_scale=9")
    assert cfg.evaluation.sta is True and cfg.evaluation.offset_scale == 9
    assert _compose().evaluation.sta is False


@pytest.mark.parametrize(
    ("experiment", "axes"),
    [
        ("ablation_backbones", {"backbone": "tsm,tam,tin,tea", "loss.sta": "false,true"}),
        ("ablation_clip_len", {"data.clip_len": "2,4,6,8"}),
        ("ablation_zeta", {"loss.zeta_sq": "1,2,4,16,64,256"}),
    ],
)
def test_ablation_experiments_sweep_the_paper_axes_over_three_splits(experiment, axes):
    cfg = _compose(f"experiment={experiment}", "data.root=/data/TLGDM")
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    assert params == {**axes, "data.split": "1,2,3"}
    assert cfg.optimizer.lr == 5e-4 and cfg.trainer.max_epochs == 12  # on the paper schedule


def test_ddp_trainer_config():
    cfg = _compose("trainer=ddp")
    assert cfg.trainer.strategy.find_unused_parameters is True and cfg.trainer.devices == 2
    _importable(cfg.trainer.strategy._target_)


def test_slurm_launcher_composes_and_its_plugin_is_installed():
    cfg = _compose("hydra/launcher=slurm", "trainer=ddp")
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("submitit_launcher.SlurmLauncher")
    assert launcher.tasks_per_node == launcher.gpus_per_node == 2  # one task per DDP device
    _importable(launcher._target_)


def test_local_joblib_launcher_composes():
    launcher = _compose("hydra/launcher=local").hydra.launcher
    assert launcher._target_.endswith("joblib_launcher.JoblibLauncher") and launcher.n_jobs == 2
    _importable(launcher._target_)


def test_cpu_uncapped_runs_every_epoch_by_steps():
    cfg = _compose("experiment=cpu_uncapped")
    assert cfg.trainer.max_time is None and cfg.scheduler.time_budget is None
    assert cfg.trainer.max_epochs == _compose().trainer.max_epochs
