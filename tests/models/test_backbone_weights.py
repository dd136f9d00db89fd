"""Loading plain timm checkpoints into every backbone: what loads, what is new, what inflates."""

from __future__ import annotations

import re

import pytest
import timm
import torch

from iodvideo.errors import ConfigError
from iodvideo.models.weights import inflate_2d_to_3d, resolve_pretrained

from .backbone_zoo import NAMES, build, timm_args

# tensors a 2D ImageNet checkpoint cannot provide: the temporal adapters' own parameters
NEW_TENSORS = {
    "resnet": None,
    "tsm": None,
    "i3d": None,
    "tin": r"\.conv1\.pre\.",
    "tam": r"\.conv1\.pre\.",
    "tea": r"\.(me|shifts)\.",
    "tdn": r"^diff_stem\.|\.conv2\.pre\.",
    "msnet": r"^motion\.",
    "s3d": r"\.temporal\.",
}


def _plain_checkpoint(name: str, tmp_path, seed: int = 1) -> tuple[dict, str]:
    torch.manual_seed(seed)
    model_name, kwargs = timm_args(name)
    state = timm.create_model(model_name, **kwargs).state_dict()
    path = tmp_path / f"{model_name}.pth"
    torch.save(state, path)
    return state, str(path)


@pytest.mark.parametrize("name", NAMES)
def test_plain_timm_checkpoint_loads_everything_but_the_classifier(name, tmp_path):
    state, path = _plain_checkpoint(name, tmp_path)
    model = build(name, 4, weights_path=path)
    audit = model.load_audit
    assert audit.unexpected == ["fc.bias", "fc.weight"]
    assert audit.mismatched == []
    used = len(state) - 2
    extra = sum(k.startswith("layer1.") for k in state) if name == "tdn" else 0  # diff_layer1
    assert len(audit.loaded) == used + extra
    pattern = NEW_TENSORS[name]
    if pattern is None:
        assert audit.missing == []
    else:
        assert audit.missing and all(re.search(pattern, k) for k in audit.missing)
    own = model.state_dict()
    prefix = "body."
    if name in ("i3d", "s3d"):
        assert "body.conv1.weight" in audit.inflated
        torch.testing.assert_close(own["body.conv1.weight"].sum(2), state["conv1.weight"])
    else:
        torch.testing.assert_close(own[prefix + "conv1.weight"], state["conv1.weight"])
    torch.testing.assert_close(own[prefix + "layer3.0.bn1.weight"], state["layer3.0.bn1.weight"])


def test_i3d_inflation_divides_by_the_temporal_kernel_unless_legacy(tmp_path):
    state, path = _plain_checkpoint("i3d", tmp_path)
    clean = build("i3d", 4, weights_path=path).state_dict()
    legacy = build("i3d", 4, weights_path=path, legacy_inflation=True).state_dict()
    key = "layer2.0.conv1.weight"  # BasicBlock: the strided 3x3 conv becomes 3x3x3
    assert clean["body." + key].shape[2] == 3
    for t in range(3):
        torch.testing.assert_close(clean["body." + key][:, :, t], state[key] / 3)
        torch.testing.assert_close(legacy["body." + key][:, :, t], state[key])
    torch.testing.assert_close(inflate_2d_to_3d(state[key], 3).sum(2), state[key])


def test_tdn_difference_stem_is_derived_from_the_rgb_stem(tmp_path):
    state, path = _plain_checkpoint("tdn", tmp_path)
    model = build("tdn", 4, weights_path=path)
    assert model.load_audit.derived == ["diff_stem.1.weight"]
    stem = model.diff_stem[1].weight
    torch.testing.assert_close(stem[:, 5], state["conv1.weight"].mean(1))
    torch.testing.assert_close(model.diff_layer1[0].conv1.weight, state["layer1.0.conv1.weight"])


def test_a_checkpoint_that_matches_nothing_is_an_error(tmp_path):
    path = tmp_path / "other.pth"
    torch.save({"backbone.base.conv1.weight": torch.zeros(1)}, path)
    with pytest.raises(ConfigError, match="no tensor matches"):
        build("tsm", 4, weights_path=str(path))


def test_pretrained_may_be_the_path_itself(tmp_path):
    _, path = _plain_checkpoint("tsm", tmp_path)
    model = build("tsm", 4, pretrained=path)
    assert model.load_audit is not None and model.load_audit.source == path
    assert resolve_pretrained(False, None) is None
    with pytest.raises(ConfigError, match="not found"):
        resolve_pretrained(str(tmp_path / "missing.pth"), None)


@pytest.mark.parametrize(("name", "unloaded"), [("tsm", r"conv[12]"), ("tin", r"conv1")])
def test_legacy_pretrained_leaves_the_reference_unloaded_convs_at_init(name, unloaded, tmp_path):
    # §5.6: TSM loads all but conv1/conv2 of every block, TIN all but conv1
    state, path = _plain_checkpoint(name, tmp_path)
    audit = build(name, 4, weights_path=path, legacy_pretrained=True).load_audit
    skipped = {k for k in state if re.fullmatch(rf"layer\d\.\d+\.{unloaded}\.weight", k)}
    assert skipped and {"body." + k for k in skipped} <= set(audit.missing)
    assert len(audit.loaded) == len(state) - 2 - len(skipped)


def test_legacy_pretrained_tdn_refuses_weights_like_the_reference_discards_them(tmp_path):
    _, path = _plain_checkpoint("tdn", tmp_path)
    with pytest.raises(ConfigError, match="re-initialises"):
        build("tdn", 4, weights_path=path, legacy_pretrained=True)
