"""The authors' original checkpoints, all nine backbones: the file is recognised from its
contents, every tensor is mapped (or named as unused by the original's forward), and the
detector computes what the original code computed on the fixture clip — through the public
loader, through the runner predict and monitor use, and through eval's channels_last model;
bad files are refused with one clear error; conversion and fine-tuning keep the audit."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from iodvideo.checkpointing import load_detector
from iodvideo.convert_checkpoint import convert
from iodvideo.errors import ConfigError
from iodvideo.inference.stream.runner import ClipRunner
from iodvideo.models.memory_format import to_channels_last
from original_support import (
    ARCHS,
    HEADS,
    TOLERANCE,
    manifest,
    reference_io,
    reference_state,
    relative_max_difference,
    save_original,
)


def _assert_matches(detector: torch.nn.Module, arch: str, where: str) -> None:
    io = reference_io(arch)
    with torch.no_grad():
        out = detector(io["input"])
    for head in HEADS:
        assert out[head].shape == io[head].shape, f"{where}: {head}"
        diff = relative_max_difference(out[head], io[head])
        assert diff <= TOLERANCE, f"{where}: {arch} {head} relative max difference {diff:.3g}"


@pytest.mark.parametrize("arch", ARCHS)
def test_original_checkpoint_matches_the_original_outputs(arch: str, tmp_path: Path) -> None:
    state = reference_state(arch)
    total = len(manifest(arch)["keys"])
    plain = save_original(tmp_path / f"{arch.upper()}_MOV_K8S1_model_last.pth", state)
    wrapped = save_original(tmp_path / "dataparallel.pth", state, module_prefix=True,
                            optimizer=True)
    for path in (plain, wrapped):
        detector, config = load_detector(path)
        info = config["original"]
        assert info["arch"] == arch and info["clip_len"] == manifest(arch)["clip_len"]
        assert info["audit"]["summary"].startswith(
            f"{total}/{total} tensors mapped, 0 missing, 0 unexpected")
        assert config["model"]["motion_input"] is False
        assert config["data"]["input_size"] == 288
        assert config["evaluation"]["offset_scale"] == 18.0
        _assert_matches(detector, arch, f"load_detector({path.name})")
    # the paths the CLIs take: predict/monitor's runner, eval's channels_last model
    runner = ClipRunner.from_checkpoint(plain, device="cpu")
    assert runner.input_size == 288 and runner.offset_scale == 18.0 and runner.mode == "mov"
    _assert_matches(runner.detector, arch, "ClipRunner (predict, monitor)")
    _assert_matches(to_channels_last(load_detector(plain)[0]), arch, "eval (channels_last)")


@pytest.fixture(scope="module")
def tsm_state() -> dict[str, torch.Tensor]:
    return reference_state("tsm")


@pytest.mark.parametrize("damage", ["removed", "renamed", "reshaped"])
def test_a_damaged_file_is_one_clear_error_naming_the_key(
        damage: str, tsm_state: dict[str, torch.Tensor], tmp_path: Path) -> None:
    state = dict(tsm_state)
    key = "backbone.base_model.layer2.1.conv3.weight"
    tensor = state.pop(key)
    if damage == "renamed":
        state["backbone.base_model.layer2.1.conv3x.weight"] = tensor
    elif damage == "reshaped":
        state[key] = tensor[:, :-1]
    path = save_original(tmp_path / "damaged.pth", state)
    with pytest.raises(ConfigError) as err:
        load_detector(path)
    message = str(err.value)
    assert str(path) in message and "nothing was loaded" in message
    expected = {"removed": ("1 missing", "body.layer2.1.conv3.weight"),
                "renamed": ("1 unexpected", "conv3x.weight"),
                "reshaped": ("of the wrong shape", "layer2.1.conv3.weight")}[damage]
    for part in expected:
        assert part in message, message


def _evil() -> None:  # referenced by the malicious pickle below, never called
    raise AssertionError("unpickling ran code")


def test_a_pickle_with_code_in_it_is_refused(tsm_state, tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"epoch": 1, "state_dict": tsm_state, "hook": _evil}, path)
    with pytest.raises(ConfigError, match="cannot load checkpoint safely"):
        load_detector(path)


def test_an_explicit_backbone_that_disagrees_is_an_error(tsm_state, tmp_path: Path) -> None:
    path = save_original(tmp_path / "TEA_STA_K8S1_model_last.pth", tsm_state)  # misnamed
    with pytest.raises(ConfigError, match="holds an original 'tsm' model"):
        convert(path, tmp_path / "out.ckpt", backbone="tea")


def test_converted_checkpoint_loads_as_the_original_does(tsm_state, tmp_path: Path) -> None:
    source = save_original(tmp_path / "TSM_STA_K8S2_model_last.pth", tsm_state,
                           module_prefix=True)
    out = tmp_path / "tsm.ckpt"
    convert(source, out)
    with pytest.raises(ConfigError, match="exists"):
        convert(source, out)
    direct, direct_cfg = load_detector(source)
    converted, converted_cfg = load_detector(out)
    assert converted_cfg == direct_cfg
    assert converted_cfg["evaluation"]["sta"] is True  # the file name says STA
    ours, theirs = converted.state_dict(), direct.state_dict()
    assert ours.keys() == theirs.keys()
    assert all(torch.equal(ours[k], theirs[k]) for k in ours)
    _assert_matches(converted, "tsm", "converted checkpoint")


def test_which_head_decodes_follows_the_untrained_head(tsm_state, tmp_path: Path) -> None:
    """The original trains one of mov/sta; the other keeps its zero-initialised biases."""
    state = dict(tsm_state)
    for key in [k for k in state if k.startswith("branch.mov.") and k.endswith(".bias")]:
        state[key] = torch.zeros_like(state[key])
    _, config = load_detector(save_original(tmp_path / "model_last.pth", state))
    assert config["evaluation"]["sta"] is True
    assert "MOV head is untrained" in config["original"]["decode_mode_reason"]


def test_init_from_an_original_file_then_one_step_changes_weights(
        tsm_state, tmp_path: Path) -> None:
    from hydra import compose, initialize_config_dir

    from iodvideo.config import CONFIG_DIR
    from iodvideo.training.init_from import adopt_initial_model

    source = save_original(tmp_path / "TSM_MOV_K8S1_model_last.pth", tsm_state)
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose("train", overrides=["experiment=smoke", "data.root=unused",
                                          f"init_from={source}"])
        detector, record = adopt_initial_model(cfg, overrides=["data.input_size=64"])
        with pytest.raises(ConfigError, match="holds a 'tsm' model but backbone=tin"):
            adopt_initial_model(cfg, overrides=["backbone=tin"])
    total = len(manifest("tsm")["keys"])
    assert record["init_from"]["audit"].startswith(f"{total}/{total} tensors mapped")
    assert record["original"]["arch"] == "tsm"
    assert cfg.data.clip_len == 8 and cfg.backbone.legacy_layout is True
    assert cfg.model.backbone.model_name == "resnet50"  # the file's model, not the default
    before = {k: v.clone() for k, v in detector.state_dict().items()}
    optimizer = torch.optim.Adam(detector.parameters(), lr=1e-3)
    out = detector.train()(torch.randn(2, 8, 3, 64, 64))
    loss = sum(v.float().pow(2).mean() for v in out.values())
    loss.backward()
    optimizer.step()
    after = detector.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert any(k.startswith("backbone.body.layer4") for k in changed)
    assert any(k.startswith("heads.hm") for k in changed)


def test_published_rows_only_for_released_models() -> None:
    from iodvideo.evaluation.published import published_rows

    tea = {"arch": "tea", "clip_len": 8, "file": "TEA_STA_K8S1_model_last.pth"}
    rows = published_rows(tea, [1], "sta")
    assert rows == {"published split 1": {"AP@0.5": 45.69, "AP@0.75": 9.15, "AP@clear": 23.08,
                                          "AP@vague": 11.92, "AP@0.5:0.95": 16.89}}
    with pytest.warns(UserWarning, match="split-1 model"):
        assert published_rows(tea, [1, 2, 3], "mov")["published avg"]["AP@0.5"] == 42.19
    assert published_rows({**tea, "arch": "tsm"}, [1], "sta") == {}
    assert published_rows(None, [1], "sta") == {}
    with pytest.warns(UserWarning, match="split-1 model"):
        published_rows(tea, [2], "sta")
