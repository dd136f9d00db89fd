"""The training suite through the real entry point (subprocesses, tiny SynthIOD, CPU):
STAloss runs, every logger, exact resumption, sweeps + collect.py, DDP over gloo, bad input."""

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow  # every test runs the CLI in a subprocess
QUIET = ("callbacks.progress_bar=null",)


def _run(*args: str, module: str = "iodvideo.train", timeout: int = 300):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "WANDB_MODE": "offline"}
    return subprocess.run(
        [sys.executable, "-m", module, *args] if module else [sys.executable, *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout,
    )


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    """SynthIOD for experiment=smoke, generated once for this module by the first run."""
    return tmp_path_factory.mktemp("synth") / "data"


def _smoke(synth_root: Path, *overrides: str, multirun: bool = False):
    flags = ("-m",) if multirun else ()
    return _run(*flags, "experiment=smoke", f"data.root={synth_root}", *QUIET, *overrides)


def _rows(run_dir: Path) -> list[dict]:
    return list(csv.DictReader(open(run_dir / "csv" / "metrics.csv")))


def _num_val_clips(synth_root: Path, clip_len: int) -> int:
    from iodvideo.data.clips import inference_clips
    from iodvideo.data.datamodule import IODVideoDataModule

    data = IODVideoDataModule(str(synth_root), clip_len=clip_len)
    stride = OmegaConf.load(REPO / "conf" / "data" / "synth.yaml").val_clip_stride
    stride = min(stride, clip_len)
    return len(inference_clips(data.annotations, data.val_videos(), clip_len, stride))


def test_sta_mode_with_csv_tensorboard_and_offline_wandb(synth_root, tmp_path):
    run = tmp_path / "run"
    result = _smoke(synth_root, "loss.sta=true", "logger=many", f"hydra.run.dir={run}")
    assert result.returncode == 0, result.stderr[-3000:]
    rows = _rows(run)
    for key in ("train/sta_sin_loss", "train/sta_cos_loss", "train/hm_loss", "lr-Adam",
                "val/frameAP@0.5"):
        assert any(r.get(key) for r in rows), key
    assert not any(r.get("train/mov_loss") for r in rows)  # STAloss replaces the movement loss
    assert list((run / "csv" / "val_frames").glob("epoch000.png"))
    # TensorBoard: scalars and the validation frames image
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run / "tensorboard")).Reload()
    assert "val/frames" in events.Tags()["images"]
    assert "train/sta_sin_loss" in events.Tags()["scalars"]
    # W&B offline: a run directory with its .wandb log, syncable later
    offline = list((run / "wandb").glob("offline-run-*"))
    assert len(offline) == 1 and list(offline[0].glob("run-*.wandb"))
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["config"]["sta"] is True and summary["value"] is not None


def test_resumed_run_matches_an_uninterrupted_run_exactly(synth_root, tmp_path):
    """Resume from the epoch-0 checkpoint (what a run killed after epoch 0 leaves) and finish:
    same weights, optimizer state, LR schedule (the default per-step cosine continues where it
    was, not reset like the reference) and metrics as the uninterrupted 2-epoch run — bit for
    bit, because the RNG states travel in the checkpoint (augmentation and shuffling continue
    the same streams). Only the wall time the schedule has seen differs (it is step-bound)."""
    full, resumed = tmp_path / "full", tmp_path / "resumed"
    common = ("trainer.max_epochs=2", "optimizer.lr=5e-4")
    result = _smoke(synth_root, *common, "callbacks.checkpoint.save_top_k=-1",
                    f"hydra.run.dir={full}")
    assert result.returncode == 0, result.stderr[-3000:]
    epoch0 = full / "checkpoints" / "epoch000.ckpt"
    result = _smoke(synth_root, *common, f"ckpt_path={epoch0}", f"hydra.run.dir={resumed}")
    assert result.returncode == 0, result.stderr[-3000:]

    a = torch.load(full / "checkpoints" / "last.ckpt", weights_only=True)
    b = torch.load(resumed / "checkpoints" / "last.ckpt", weights_only=True)
    assert (a["epoch"], a["global_step"]) == (b["epoch"], b["global_step"]) == (1, 4)
    assert a["state_dict"].keys() == b["state_dict"].keys()
    for name, tensor in a["state_dict"].items():
        assert torch.equal(tensor, b["state_dict"][name]), name
    for s_a, s_b in zip(a["optimizer_states"][0]["state"].values(),
                        b["optimizer_states"][0]["state"].values(), strict=True):
        assert all(torch.equal(s_a[k], s_b[k]) for k in s_a)
    clock = "elapsed_before_s"
    assert [{k: v for k, v in s.items() if k != clock} for s in a["lr_schedulers"]] == [
        {k: v for k, v in s.items() if k != clock} for s in b["lr_schedulers"]]
    assert b["lr_schedulers"][0][clock] > 0  # the resumed run carried the first run's time on
    # 4 steps: warm-up 1, cosine down to final_factor 1 % at the last step
    assert b["optimizer_states"][0]["param_groups"][0]["lr"] == pytest.approx(5e-6)

    def epoch1(rows, key):
        return [r[key] for r in rows if r.get(key) and r.get("epoch") == "1"]

    rows_a, rows_b = _rows(full), _rows(resumed)
    for key in ("train/loss", "train/hm_loss", "val/frameAP@0.5"):
        assert epoch1(rows_a, key) and epoch1(rows_a, key) == epoch1(rows_b, key), key
    assert not any(r.get("epoch") == "0" for r in rows_b)  # epoch 0 came from the checkpoint


def test_two_job_multirun_bf16_channels_last_and_collect(synth_root, tmp_path):
    sweep = tmp_path / "multirun"
    result = _smoke(
        synth_root, "hydra/launcher=local", "loss.sta=false,true",
        "trainer.precision=bf16-mixed", "channels_last=true", f"hydra.sweep.dir={sweep}",
        multirun=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    for job in ("0", "1"):
        summary = json.loads((sweep / job / "metrics.json").read_text())
        assert summary["value"] is not None
        assert "trainer.precision=bf16-mixed" in summary["overrides"]
        assert all(v is not None for k, v in summary["metrics"].items() if k.startswith("train/"))
    result = _run("scripts/collect.py", str(sweep), module="")
    assert result.returncode == 0, result.stderr
    table = (sweep / "results.md").read_text()
    assert re.search(r"\| tsm \| MOV \| 1 \| \d+\.\d\d \|", table), table
    assert re.search(r"\| tsm \| STAloss \| 1 \| \d+\.\d\d \|", table), table
    rows = list(csv.DictReader(open(sweep / "results.csv")))
    assert [r["sta"] for r in rows] == ["MOV", "STAloss"] and "val/frameAP@0.5" in rows[0]
    assert len(list(csv.DictReader(open(sweep / "runs.csv")))) == 2


TINY = ("data.synth.num_videos=4", "data.synth.min_frames=16", "data.synth.max_frames=16",
        "data.synth.height=64", "data.synth.width=64", "data.batch_size=2",
        "data.eval_batch_size=8", "trainer.max_epochs=1", "trainer.limit_train_batches=2",
        "model.neck.channels=32", "model.neck.out_channels=16", "model.heads.head_conv=32",
        "model.heads.wh_head_conv=16")


def test_cpu_table_regime_runs_two_jobs_with_loader_workers(synth_root, tmp_path):
    # the CPU results tables: joblib jobs whose DataLoaders start worker processes, no
    # validation, the final weights scored, job folders named by the swept values
    sweep = tmp_path / "table"
    result = _run("-m", "experiment=cpu_clip_len", f"data.root={synth_root}", "data.split=1",
                  "data.clip_len=2,4", "data.num_workers=1", f"hydra.sweep.dir={sweep}", *TINY)
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = sorted(p.name for p in sweep.iterdir() if p.is_dir())
    assert jobs == [f"tsm,sta=False,motion=True,K={k},zeta_sq=4.0,legacy=False,split=1"
                    for k in (2, 4)]
    for job in jobs:
        summary = json.loads((sweep / job / "metrics.json").read_text())
        assert summary["value"] is None and summary["test_checkpoint"] is None  # no validation
        assert summary["best_checkpoint"] is None
        assert summary["metrics"]["test/AP@0.5"] is not None and summary["wall_s"] > 0
        assert summary["config"]["motion_input"] is True and summary["config"]["seed"] == 1
    assert "the final weights" in result.stdout
    assert "WARNING] - val/frameAP@0.5 was not computed" not in result.stdout  # planned


def test_ddp_two_cpu_processes_over_gloo(synth_root, tmp_path):
    run = tmp_path / "ddp"
    result = _smoke(synth_root, "trainer=ddp", "trainer.accelerator=cpu", "trainer.devices=2",
                    "trainer.max_epochs=1", f"hydra.run.dir={run}")
    assert result.returncode == 0, result.stderr[-3000:]
    log = result.stdout + result.stderr
    assert "distributed_backend=gloo" in log and "MEMBER: 2/2" in log
    summary = json.loads((run / "metrics.json").read_text())
    # every validation clip was scored: each rank decoded its share, then they were gathered
    assert summary["metrics"]["val/num_clips"] == _num_val_clips(synth_root, clip_len=4)
    assert (run / "checkpoints" / "last.ckpt").exists()


def test_nan_loss_stops_the_run_with_one_error_line(synth_root, tmp_path):
    result = _smoke(synth_root, "loss.hm_weight=nan", f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "global step 0" in lines[0] and "weighted sum" in lines[0]
    assert "Traceback" not in result.stderr


def test_a_diverged_sweep_job_is_recorded_and_the_sweep_goes_on(synth_root, tmp_path):
    sweep = tmp_path / "multirun"
    result = _smoke(synth_root, "loss.hm_weight=nan,1", f"hydra.sweep.dir={sweep}",
                    multirun=True)
    assert result.returncode == 0, result.stderr[-2000:]
    diverged, finished = (json.loads((sweep / job / "metrics.json").read_text())
                          for job in ("0", "1"))
    assert "non-finite loss at global step 0" in diverged["diverged"]
    assert finished["diverged"] is None and finished["metrics"]["test/AP@0.5"] is not None
    result = _run("scripts/collect.py", str(sweep), "--metrics", "test/AP@0.5", module="")
    assert result.returncode == 0, result.stderr
    assert "diverged: 0: non-finite loss at global step 0" in result.stdout


def test_unknown_config_key_fails_before_any_work(tmp_path):
    root, run = tmp_path / "never", tmp_path / "run"
    result = _run("experiment=smoke", f"data.root={root}", "loss.zeta=4", f"hydra.run.dir={run}")
    assert result.returncode == 1
    assert "Could not override 'loss.zeta'" in result.stderr
    assert not root.exists() and not run.exists()


def test_pretrained_weights_offline_end_the_run_with_one_error_line(
    synth_root, tmp_path, monkeypatch
):
    # HF_HUB_OFFLINE=1 (set by _run, as in CI) and an empty cache: no download is attempted
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    result = _run("experiment=smoke", f"data.root={synth_root}", "backbone.pretrained=true",
                  f"hydra.run.dir={tmp_path / 'run'}")
    assert result.returncode == 2, result.stderr[-2000:]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "HF_HUB_OFFLINE=1" in errors[0]
    assert "backbone.weights_path=" in errors[0] and "Traceback" not in result.stderr
