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


def test_msnet_exports_to_onnx_and_matches_pytorch(tmp_path: Path) -> None:
    """MSNet used to be refused ("its correlation slides a window with Tensor.unfold"), which
    the correlation no longer does: traced, it is pad/matmul/diagonal, which ONNX takes; the
    file matches PyTorch at batch 1 and (dynamic batch) 2."""
    from iodvideo.checkpointing import load_detector

    ckpt = built_checkpoint(tmp_path / "msnet.ckpt", "msnet")
    detector, _ = load_detector(ckpt)
    record = export_detector(detector, "onnx", tmp_path / "m.onnx", 64)
    assert record["ok"] and record["max_abs_diff"] <= 1e-4
    assert set(record["checks"]) == {"batch 1", "batch 2"}


def test_a_backbone_that_states_a_reason_is_refused_with_it(tmp_path: Path,
                                                            monkeypatch) -> None:
    """A backbone class may say why a format cannot take it (``export_unsupported``); export
    refuses before exporting, with that reason."""
    from iodvideo.checkpointing import load_detector
    from iodvideo.models.temporal.shift import TSMBackbone

    monkeypatch.setattr(TSMBackbone, "export_unsupported",
                        {"onnx": "a reason the class states"}, raising=False)
    ckpt = built_checkpoint(tmp_path / "tsm.ckpt", "tsm")
    detector, _ = load_detector(ckpt)
    with pytest.raises(ExportError, match="'tsm' cannot be exported to onnx: a reason the class"):
        export_detector(detector, "onnx", tmp_path / "m.onnx", 64)
    assert not (tmp_path / "m.onnx").exists()
    with pytest.raises(ExportError, match="cannot be exported to onnx"):
        export(base_config("export", tmp_path, ckpt=str(ckpt), format="onnx"))


def test_the_example_clip_is_as_long_as_the_model_reads(tmp_path: Path) -> None:
    """TDN reads K + 4 frames: the verification clip must have them (ask the model)."""
    from iodvideo.checkpointing import load_detector

    detector, _ = load_detector(built_checkpoint(tmp_path / "tdn.ckpt", "tdn"))
    clip = example_clip(detector, 32, batch=2)
    assert clip.shape == (2, detector.clip_len + 4, 3, 32, 32)
    assert set(detector(clip)) >= {"hm", "wh", "mov"}
