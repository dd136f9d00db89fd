"""Backbone registry facts: what the rest of the package reads about each backbone."""

from __future__ import annotations

import pytest

from iodvideo.models.registry import BACKBONES, BackboneFacts, backbone_facts

from .backbone_zoo import NAMES, PAPER_NAMES, build, clip_for, tiny_detector

# the facts as protocol §5 and docs/backbones.md state them
CONTEXT = {"tdn": 2}
FRAME_LEVEL = {"resnet"}
STREAMABLE = {"tsm"}
NOT_ONNX: set[str] = set()  # MSNet too, since its correlation traces to pad/matmul/diagonal
NECK_BEFORE_RESHAPE = {"tam", "tdn"}  # reference: neck L2Norm/upsampling before the reshape
PER_FRAME_NECK = {"tea", "tam", "tdn", "i3d", "s3d", "msnet", "resnet"}  # TSM, TIN batched


def test_the_paper_backbones_are_exactly_the_registered_ones():
    assert set(BACKBONES) == PAPER_NAMES


@pytest.mark.parametrize("name", NAMES)
def test_facts_of_every_registered_backbone(name):
    facts = backbone_facts(name)
    assert facts.name == name
    assert facts.context_frames == CONTEXT.get(name, 0)
    assert facts.temporal is (name not in FRAME_LEVEL)
    assert facts.online_streamable is (name in STREAMABLE)
    assert ("onnx" in facts.export_unsupported) is (name in NOT_ONNX)
    assert set(facts.export_unsupported) <= {"onnx"}
    assert facts.legacy_neck_before_reshape is (name in NECK_BEFORE_RESHAPE)
    assert facts.legacy_per_frame_neck is (name in PER_FRAME_NECK)


def test_no_backbone_claims_an_export_it_can_do():
    """MSNet's refusal said its correlation used Tensor.unfold, which it no longer does: the
    traced correlation exports (tests/test_export.py checks MSNet's ONNX file)."""
    assert not backbone_facts("msnet").export_unsupported


@pytest.mark.parametrize("name", NAMES)
def test_lookup_by_name_class_instance_and_target_agree(name):
    cls = BACKBONES[name]
    target = f"{cls.__module__}.{cls.__qualname__}"
    model = build(name, 4)
    by_name = backbone_facts(name)
    assert backbone_facts(cls) == by_name
    assert backbone_facts(model) == by_name
    assert backbone_facts(target) == by_name


@pytest.mark.parametrize("name", NAMES)
def test_facts_agree_with_what_the_built_model_needs(name):
    model = build(name, 4)
    facts = backbone_facts(model)
    assert facts.context_frames == getattr(model, "context_frames", 0)
    detector = tiny_detector(model)
    assert detector.frames_per_clip == 4 + 2 * facts.context_frames
    assert clip_for(model, 4).shape[1] == detector.frames_per_clip


def test_unknown_name_raises_key_error_naming_the_registered_ones():
    with pytest.raises(KeyError) as error:
        backbone_facts("resnet3d")
    message = str(error.value)
    assert "resnet3d" in message
    assert all(name in message for name in BACKBONES)


def test_unknown_target_raises_key_error_too():
    with pytest.raises(KeyError, match="registered"):
        backbone_facts("iodvideo.models.temporal.shift.NoSuchBackbone")


def test_facts_are_frozen():
    facts = backbone_facts("tsm")
    assert isinstance(facts, BackboneFacts)
    with pytest.raises(AttributeError):
        facts.online_streamable = False  # type: ignore[misc]
    with pytest.raises(TypeError):
        facts.export_unsupported["onnx"] = "x"  # type: ignore[index]
