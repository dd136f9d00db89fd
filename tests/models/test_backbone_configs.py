"""conf/backbone/: every backbone composes from the shared _base (+ _temporal) keys and its own."""

from __future__ import annotations

from pathlib import Path

import hydra
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from iodvideo.config import CONFIG_DIR
from iodvideo.models.registry import BACKBONES
from iodvideo.models.temporal.base import TemporalBackbone

from .backbone_zoo import timm_args

CONF = Path(CONFIG_DIR) / "backbone"
BACKBONE_FILES = sorted(p.stem for p in CONF.glob("*.yaml") if not p.stem.startswith("_"))


def composed(name: str, overrides: tuple[str, ...] = ()) -> dict:
    """``backbone=<name>`` as Hydra composes it (the group alone, interpolations unresolved)."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name=f"backbone/{name}", overrides=list(overrides))
    return OmegaConf.to_container(cfg.backbone, resolve=False)


def own_keys(name: str) -> dict:
    """The keys a file in conf/backbone/ writes itself (its defaults list left out)."""
    node = OmegaConf.to_container(OmegaConf.load(CONF / f"{name}.yaml"))
    node.pop("defaults", None)
    return node


def is_temporal(name: str) -> bool:
    return issubclass(BACKBONES[name], TemporalBackbone)


def test_every_registered_backbone_has_a_config_and_no_config_is_unregistered():
    assert set(BACKBONE_FILES) == set(BACKBONES)


@pytest.mark.parametrize("name", BACKBONE_FILES)
def test_backbone_config_instantiates(name):
    model_name, model_kwargs = timm_args(name)
    node = composed(name)
    cfg = OmegaConf.create({"data": {"clip_len": 4}, "backbone": node})
    cfg.backbone.model_name = model_name
    cfg.backbone.model_kwargs = model_kwargs
    model = hydra.utils.instantiate(cfg.backbone)
    assert type(model) is BACKBONES[name]
    if isinstance(model, TemporalBackbone):
        assert model.clip_len == 4


@pytest.mark.parametrize("name", BACKBONE_FILES)
def test_shared_keys_come_from_base_and_temporal_unless_the_backbone_sets_them(name):
    node, own = composed(name), own_keys(name)
    shared = own_keys("_base") | (own_keys("_temporal") if is_temporal(name) else {})
    for key, value in shared.items():
        assert node[key] == own.get(key, value), key
    # a backbone file repeats no shared key with the shared value: that is what _base is for
    assert [k for k, v in own.items() if shared.get(k, object()) == v] == []
    assert set(node) == set(shared) | set(own)


def test_the_frame_level_backbone_gets_no_temporal_keys():
    node = composed("resnet")
    assert not {"clip_len", "legacy_layout"} & set(node)


# The composed nodes as they were when every file repeated every key (legacy_per_frame is new).
EXPECTED = {
    "resnet": {
        "_target_": "iodvideo.models.temporal.frame.FrameBackbone", "_convert_": "all",
        "model_name": "resnet18", "pretrained": False, "weights_path": None,
        "model_kwargs": {}, "legacy_per_frame": False,
    },
    "tsm": {
        "_target_": "iodvideo.models.temporal.shift.TSMBackbone", "_convert_": "all",
        "model_name": "resnet18", "clip_len": "${data.clip_len}", "pretrained": False,
        "weights_path": None, "legacy_layout": False, "model_kwargs": {},
        "legacy_pretrained": False,
    },
    "tea": {
        "_target_": "iodvideo.models.temporal.excitation.TEABackbone", "_convert_": "all",
        "model_name": "res2net50_26w_4s", "clip_len": "${data.clip_len}", "pretrained": False,
        "weights_path": None, "legacy_layout": False, "model_kwargs": {},
    },
    "i3d": {
        "_target_": "iodvideo.models.temporal.inflate3d.I3DBackbone", "_convert_": "all",
        "model_name": "resnet18", "clip_len": "${data.clip_len}", "pretrained": False,
        "weights_path": None, "legacy_layout": False, "model_kwargs": {},
        "temporal_stride": True, "legacy_inflation": False,
    },
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_composed_backbone_node_is_unchanged(name):
    assert composed(name) == EXPECTED[name]


@pytest.mark.parametrize(
    ("overrides", "name"),
    [(["backbone=tdn"], "tdn"), (["experiment=paper"], "tea"),
     (["experiment=paper", "backbone=tam"], "tam")],
)
def test_the_training_config_holds_the_composed_backbone_node(overrides, name):
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        cfg = compose(config_name="train", overrides=overrides)
    expected = composed(name)
    if "experiment=paper" in overrides:  # the paper starts from ImageNet weights
        expected = {**expected, "pretrained": True}
    assert OmegaConf.to_container(cfg.backbone, resolve=False) == expected
    assert cfg.backbone.clip_len == cfg.data.clip_len


def test_base_keys_are_overridable_from_the_command_line():
    node = composed("tin", ("backbone.model_name=resnet50", "backbone.legacy_layout=true"))
    assert node["model_name"] == "resnet50" and node["legacy_layout"] is True
