"""Config composition: the conf/ groups (model, callbacks, paths, hydra) composing to the same
run config as before they were split out, the paper schedule, the results-table sweeps (CPU
and paper scale) and the cluster launchers."""

import importlib
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from iodvideo.config import CONFIG_DIR

REPO = Path(__file__).resolve().parents[1]
# the configs of the CLIs that write into a run directory of their own (synth keeps Hydra's)
RUN_CONFIGS = ("train", "eval", "predict", "monitor", "export")


def _compose_config(name: str, *overrides: str):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        return compose(name, overrides=list(overrides), return_hydra_config=True)


def _compose(*overrides: str):
    return _compose_config("train", *overrides)


def _raw(node) -> dict:
    """``node`` as plain data with interpolations unresolved (``${now:...}`` stays text)."""
    return OmegaConf.to_container(node, resolve=False)


def _importable(target: str) -> object:
    module, name = target.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


def test_an_editable_checkout_reads_the_repository_conf():
    assert Path(CONFIG_DIR) == REPO / "conf"  # edits in conf/ take effect without reinstalling


@pytest.mark.parametrize("name", RUN_CONFIGS)
def test_every_run_config_takes_its_run_and_sweep_dirs_from_the_hydra_group(name):
    cfg = _compose_config(name)
    assert cfg.task_name == name and cfg.hydra.job.chdir is False
    assert _raw(cfg.hydra.run) == {"dir": "outputs/${task_name}/${now:%Y-%m-%d_%H-%M-%S}"}
    assert _raw(cfg.hydra.sweep) == {"dir": "multirun/${task_name}/${now:%Y-%m-%d_%H-%M-%S}",
                                     "subdir": "${hydra.job.num}"}
    assert cfg.hydra.help.app_name == f"iodvideo.{name}"  # help stays per command
    assert _raw(cfg.paths) == {"output_dir": "${hydra:runtime.output_dir}"}
    if name != "train":
        assert _raw(cfg)["output_dir"] == "${paths.output_dir}"


@pytest.mark.parametrize("name", [*RUN_CONFIGS, "synth"])
def test_root_configs_hold_no_run_sweep_or_job_block(name):
    assert set(OmegaConf.load(REPO / "conf" / f"{name}.yaml").hydra) == {"help"}


def test_train_model_callbacks_and_optimizer_compose_as_before_the_groups():
    """The values the train.yaml blocks had: checkpoints carry the resolved ``model`` node and
    are rebuilt from it, and overrides such as callbacks.val_images=null name these keys."""
    cfg = _compose()
    assert _raw(cfg.model) == {
        "_target_": "iodvideo.models.detector.ClipDetector",
        "backbone": "${backbone}",
        "clip_len": "${data.clip_len}",
        "motion_input": True,
        "neck": {"_target_": "iodvideo.models.neck.FusionNeck", "_partial_": True,
                 "channels": 64, "out_channels": 64},
        "heads": {"_target_": "iodvideo.models.heads.ClipHeads", "_partial_": True,
                  "head_conv": 64, "wh_head_conv": 64, "num_classes": None,
                  "wh_from": "frame"},
    }
    callbacks = _raw(cfg.callbacks)
    assert {name: c["_target_"].rsplit(".", 1)[1] for name, c in callbacks.items()} == {
        "checkpoint": "ModelCheckpoint", "last_checkpoint": "ModelCheckpoint",
        "progress_bar": "RichProgressBar", "lr_monitor": "LearningRateMonitor",
        "bn_calibration": "RecalibrateBatchNorm", "rng": "RNGStateCheckpoint",
        "val_images": "ValidationImages",
    }  # in this order: Lightning runs callbacks in the order they are given
    assert callbacks["checkpoint"] == {
        "_target_": "pytorch_lightning.callbacks.ModelCheckpoint",
        "dirpath": "${paths.output_dir}/checkpoints", "filename": "epoch{epoch:03d}",
        "auto_insert_metric_name": False, "monitor": "${optimized_metric}", "mode": "max",
        "save_top_k": 1, "save_last": False,
    }
    assert callbacks["last_checkpoint"]["filename"] == "last"
    assert callbacks["bn_calibration"]["num_batches"] == 8
    assert callbacks["val_images"]["num_images"] == 4
    assert _raw(cfg.optimizer) == {"_target_": "torch.optim.Adam", "_partial_": True,
                                   "lr": 1.0e-3, "weight_decay": 0.0, "fused": True}
    assert _raw(cfg.trainer)["default_root_dir"] == "${paths.output_dir}"
    assert _raw(cfg.logger.csv)["save_dir"] == "${paths.output_dir}"
    for target in (cfg.model._target_, *(c._target_ for c in cfg.callbacks.values())):
        _importable(target)


def test_callbacks_are_switched_off_and_tuned_by_their_keys():
    cfg = _compose("callbacks.val_images=null", "callbacks.bn_calibration.num_batches=0")
    assert cfg.callbacks.val_images is None and cfg.callbacks.bn_calibration.num_batches == 0


@pytest.mark.parametrize(
    ("experiment", "motion_input", "neck", "heads"),
    [
        ("smoke", True, (32, 16), (32, 16)),
        ("paper", False, (256, 64), (256, 256)),
        ("paper_concat", False, (256, 64), (256, 64)),
        ("cpu_long", True, (64, 64), (64, 64)),
    ],
)
def test_experiments_still_override_the_model_group(experiment, motion_input, neck, heads):
    model = _compose(f"experiment={experiment}").model
    assert model.motion_input is motion_input
    assert (model.neck.channels, model.neck.out_channels) == neck
    assert (model.heads.head_conv, model.heads.wh_head_conv) == heads


@pytest.mark.parametrize(("overrides", "wh_weight", "sizes"), [
    ((), 1.0, "clip"),  # the CPU recipe: tighter boxes (docs/results.md "Boxes that fit")
    (("experiment=paper", "data.root=/d"), 0.1, "frame"),  # the reference's objective/decoder
    (("experiment=paper_concat", "data.root=/d"), 0.1, "frame"),
    (("experiment=cpu_table",), 0.1, "frame"),  # what results/tables were measured with
    (("experiment=cpu_backbones",), 0.1, "frame"),
])
def test_size_weight_and_decoder_sizes_per_recipe(overrides, wh_weight, sizes):
    cfg = _compose(*overrides)
    assert cfg.loss.wh_weight == wh_weight and cfg.loss.wh_loss == "l1"
    assert cfg.evaluation.sizes == sizes and cfg.model.heads.wh_from == "frame"


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
    assert cfg.scheduler._target_ == "iodvideo.training.schedules.WarmupCosineLR"
    assert cfg.scheduler.time_budget == cfg.trainer.max_time  # anneals within the cap
    _importable(cfg.scheduler._target_)


def test_loss_switch_drives_the_decoder():
    cfg = _compose("loss.sta=true", "loss.offset_scale=9")
    assert cfg.evaluation.sta is True and cfg.evaluation.offset_scale == 9
    assert _compose().evaluation.sta is False


@pytest.mark.parametrize(
    ("experiment", "axes", "backbone"),
    [
        ("paper_backbones", {"backbone": "tsm,tam,tin,tdn,msnet,i3d,s3d"}, "resnet50"),
        ("paper_clip_len", {"data.clip_len": "2,4,6,8"}, "res2net50_26w_4s"),
        ("paper_zeta", {"loss.zeta_sq": "1,2,4,16,64,256"}, "res2net50_26w_4s"),
        ("paper_layout", {"backbone.legacy_layout": "false,true"}, "resnet50"),
    ],
)
def test_paper_tables_sweep_the_paper_axes_over_three_splits(experiment, axes, backbone):
    cfg = _compose(f"experiment={experiment}", "data.root=/data/TLGDM")
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    assert params == {**axes, "data.split": "1,2,3"}
    assert cfg.optimizer.lr == 5e-4 and cfg.trainer.max_epochs == 12  # on the paper schedule
    assert cfg.data.input_size == 288 and cfg.backbone.model_name == backbone
    assert cfg.model.motion_input is False  # the paper's input
    assert cfg.hydra.sweep.dir == f"multirun/{experiment}"
    assert cfg.loss.sta is (experiment != "paper_backbones")  # Table 2's MOV rows first


@pytest.mark.parametrize(
    ("experiment", "axes"),
    [
        ("cpu_backbones", {"backbone": "resnet,tsm,tam,tin,tea,tdn,msnet,i3d,s3d"}),
        ("cpu_clip_len", {"data.clip_len": "2,4,6,8"}),
        ("cpu_zeta", {"loss.zeta_sq": "1,4,16,64"}),
        ("cpu_layout", {"backbone": "tsm,tea", "backbone.legacy_layout": "false,true"}),
    ],
)
def test_cpu_tables_share_one_fixed_budget_regime(experiment, axes):
    cfg = _compose(f"experiment={experiment}")
    params = OmegaConf.to_container(cfg.hydra.sweeper.params)
    assert params == {**axes, "data.split": "1,2,3"}
    assert cfg.data.input_size == 64 and cfg.trainer.max_epochs == 4
    assert cfg.trainer.max_time is None and cfg.scheduler.time_budget is None  # by steps
    assert cfg.trainer.limit_val_batches == 0 and cfg.callbacks.checkpoint is None
    assert cfg.seed == cfg.data.split  # each split its own initialisation and training clips
    assert cfg.model.motion_input is True and cfg.data.online is not None
    assert cfg.hydra.launcher.n_jobs == 2
    assert cfg.hydra.sweep.dir == f"multirun/{experiment}"
    assert cfg.loss.sta is (experiment == "cpu_zeta")


def test_table_job_directories_are_named_by_every_table_axis():
    for cfg in (_compose("experiment=cpu_layout"),
                _compose("experiment=paper_zeta", "data.root=/data/TLGDM")):
        subdir = _raw(cfg.hydra.sweep)["subdir"]
        for axis in ("${hydra.runtime.choices.backbone}", "${loss.sta}", "${model.motion_input}",
                     "${data.clip_len}", "${loss.zeta_sq}", "legacy_layout", "${data.split}"):
            assert axis in subdir


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


def test_plugin_launcher_composes_next_to_the_hydra_group():
    cfg = _compose("hydra/launcher=joblib")  # the plugin's own config, not conf/hydra/launcher
    assert cfg.hydra.launcher._target_.endswith("joblib_launcher.JoblibLauncher")
    assert _raw(cfg.hydra.sweep)["dir"] == "multirun/${task_name}/${now:%Y-%m-%d_%H-%M-%S}"


def test_cpu_uncapped_runs_every_epoch_by_steps():
    cfg = _compose("experiment=cpu_uncapped")
    assert cfg.trainer.max_time is None and cfg.scheduler.time_budget is None
    assert cfg.trainer.max_epochs == _compose().trainer.max_epochs
