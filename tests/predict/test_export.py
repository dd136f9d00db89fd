"""Export round trips (ONNX via onnxruntime, TorchScript) for resnet and tsm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from iodvideo.export import ExportError, export, export_detector

from .conftest import base_config


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


def test_unsupported_backbone_is_refused_with_the_reason(tsm_ckpt: Path, tmp_path: Path
                                                         ) -> None:
    from iodvideo.eval import load_detector

    detector, _ = load_detector(tsm_ckpt)
    with pytest.raises(ExportError, match="'msnet' cannot be exported to onnx: .*unfold"):
        export_detector(detector, "msnet", "onnx", tmp_path / "m.onnx", 64)
