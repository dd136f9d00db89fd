"""Export round trips (ONNX via onnxruntime, TorchScript) for resnet and tsm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cli_support import base_config, built_checkpoint
from iodvideo.export import ExportError, example_clip, export, export_detector


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
@pytest.mark.parametrize("which", ["resnet", "tsm"])
def test_export_round_trip(which: str, fmt: str, request: pytest.FixtureRequest,
                           tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = request.getfixturevalue(f"{which}_ckpt")
    cfg = base_config("export", tmp_path, ckpt=str(ckpt), format=fmt)
    record = export(cfg)
    assert record["ok"] and record["max_abs_diff"] <= 1e-4
    assert record["backbone"] == which and Path(record["file"]).stat().st_size > 0
    assert set(record["checks"]) == {"batch 1", "batch 2"}
    assert json.loads((tmp_path / "export.json").read_text())["ok"]
    assert "max abs diff" in capsys.readouterr().out


def test_unsupported_backbone_is_refused_with_the_reason(tmp_path: Path) -> None:
    """MSNet's class states why ONNX cannot take it; export refuses before exporting."""
    from iodvideo.checkpointing import load_detector
    from iodvideo.models.registry import backbone_facts

    ckpt = built_checkpoint(tmp_path / "msnet.ckpt", "msnet")
    detector, _ = load_detector(ckpt)
    reason = backbone_facts("msnet").export_unsupported["onnx"]
    with pytest.raises(ExportError, match="'msnet' cannot be exported to onnx: .*unfold"):
        export_detector(detector, "onnx", tmp_path / "m.onnx", 64)
    assert "unfold" in reason and not (tmp_path / "m.onnx").exists()
    with pytest.raises(ExportError, match="cannot be exported to onnx"):
        export(base_config("export", tmp_path, ckpt=str(ckpt), format="onnx"))


def test_the_example_clip_is_as_long_as_the_model_reads(tmp_path: Path) -> None:
    """TDN reads K + 4 frames: the verification clip must have them (ask the model)."""
    from iodvideo.checkpointing import load_detector

    detector, _ = load_detector(built_checkpoint(tmp_path / "tdn.ckpt", "tdn"))
    clip = example_clip(detector, 32, batch=2)
    assert clip.shape == (2, detector.clip_len + 4, 3, 32, 32)
    assert set(detector(clip)) >= {"hm", "wh", "mov"}
