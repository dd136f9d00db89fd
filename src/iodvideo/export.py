"""Export: ``python -m iodvideo.export ckpt=<checkpoint> format=onnx|torchscript``.

Exports the clip model (``video (B, K, 3, S, S)``, frames resized and normalised as in
training, → ``hm`` logits, ``wh``, ``mov``, ``sta``) and verifies the exported file against
PyTorch on a random clip: the max abs difference of every output is printed and must not
exceed ``tolerance`` (1e-4). ONNX files are checked with onnxruntime, TorchScript ones by
reloading them with ``torch.jit.load``.

Backbones whose operations a format cannot express are refused up front with the reason their
class states (``export_unsupported``, read through
:func:`iodvideo.models.registry.backbone_facts`); anything else that fails to export is
reported as one clear error. The example clip is as long as the model asks
(``ClipDetector.frames_per_clip``: TDN's context frames included).
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch import nn

from iodvideo.checkpointing import config_value, load_detector
from iodvideo.config import CONFIG_DIR
from iodvideo.errors import ConfigError, IODVideoError, exit_on_user_error
from iodvideo.models.registry import backbone_facts

log = logging.getLogger(__name__)

OUTPUT_NAMES = ("hm", "wh", "mov", "sta")
FORMATS = ("onnx", "torchscript")


class ExportError(IODVideoError):
    """The model cannot be exported in this format, or the export does not match PyTorch."""


class ClipModel(nn.Module):
    """The detector with a tuple output (exporters want fixed, ordered outputs)."""

    def __init__(self, detector: nn.Module) -> None:
        super().__init__()
        self.detector = detector

    def forward(self, video: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.detector(video)
        return tuple(out[name] for name in OUTPUT_NAMES)


def example_clip(detector: nn.Module, input_size: int, batch: int = 1, seed: int = 0
                 ) -> torch.Tensor:
    """A random normalised clip of the length the model reads, ``(B, T, 3, S, S)``."""
    frames = int(detector.frames_per_clip)
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, frames, 3, input_size, input_size, generator=generator)


def export_torchscript(model: ClipModel, clip: torch.Tensor, path: Path) -> None:
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.trace deprecation note
        traced = torch.jit.trace(model, (clip,), check_trace=False)
    traced.save(str(path))


def export_onnx(model: ClipModel, clip: torch.Tensor, path: Path, opset: int,
                dynamic_batch: bool) -> None:
    axes = {"video": {0: "batch"}, **{n: {0: "batch"} for n in OUTPUT_NAMES}}
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter's deprecation notes
        torch.onnx.export(
            model, (clip,), str(path), input_names=["video"], output_names=list(OUTPUT_NAMES),
            opset_version=opset, dynamic_axes=axes if dynamic_batch else None, dynamo=False,
            do_constant_folding=True,
        )


def run_exported(fmt: str, path: Path, clip: torch.Tensor) -> list[np.ndarray]:
    if fmt == "torchscript":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            loaded = torch.jit.load(str(path), map_location="cpu")
        with torch.no_grad():
            return [o.numpy() for o in loaded(clip)]
    try:
        import onnxruntime as ort
    except ImportError:
        raise ExportError("verifying ONNX needs onnxruntime: pip install onnxruntime") from None
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(list(OUTPUT_NAMES), {"video": clip.numpy()})


def verify(model: ClipModel, fmt: str, path: Path, clip: torch.Tensor) -> dict[str, float]:
    """Max abs difference per output between PyTorch and the exported file on ``clip``."""
    with torch.no_grad():
        expected = [o.numpy() for o in model(clip)]
    got = run_exported(fmt, path, clip)
    diffs = {}
    for name, a, b in zip(OUTPUT_NAMES, expected, got, strict=True):
        if a.shape != tuple(b.shape):
            raise ExportError(f"{path}: output {name} has shape {tuple(b.shape)}, PyTorch gives "
                              f"{a.shape}")
        diffs[name] = float(np.max(np.abs(a - b))) if a.size else 0.0
    return diffs


def export_detector(
    detector: nn.Module, fmt: str, path: Path, input_size: int,
    batch_size: int = 1, dynamic_batch: bool = True, opset: int = 17,
    tolerance: float = 1e-4, seed: int = 0,
) -> dict[str, Any]:
    """Export ``detector`` to ``path`` and verify it; returns the record written to
    ``export.json``. Raises :class:`ExportError` when it cannot be done or does not match."""
    if fmt not in FORMATS:
        raise ConfigError(f"format must be one of {FORMATS}, got {fmt!r}")
    facts = backbone_facts(detector.backbone)
    backbone = facts.name
    reason = facts.export_unsupported.get(fmt)
    if reason is not None:
        raise ExportError(f"backbone {backbone!r} cannot be exported to {fmt}: {reason}")
    model = ClipModel(detector.eval().cpu()).eval()
    clip = example_clip(detector, input_size, batch_size, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if fmt == "torchscript":
            export_torchscript(model, clip, path)
        else:
            export_onnx(model, clip, path, opset, dynamic_batch)
    except ExportError:
        raise
    except Exception as err:  # noqa: BLE001 - an operation the exporter cannot express
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ExportError(f"backbone {backbone!r} cannot be exported to {fmt}: "
                          f"{type(err).__name__}: {first[:300]}") from None
    checks = {f"batch {batch_size}": verify(model, fmt, path, clip)}
    if dynamic_batch or fmt == "torchscript":
        other = batch_size + 1
        try:
            checks[f"batch {other}"] = verify(
                model, fmt, path, example_clip(detector, input_size, other, seed + 1)
            )
        except ExportError:
            raise
        except Exception as err:  # noqa: BLE001 - shapes frozen at trace time
            log.warning("%s: only batch %d works (%s)", path, batch_size,
                        str(err).splitlines()[0][:200])
            checks[f"batch {other}"] = {"error": str(err).splitlines()[0][:200]}
    worst = max(v for c in checks.values() for v in c.values() if isinstance(v, float))
    record = {
        "format": fmt, "file": str(path), "backbone": backbone, "clip_len": detector.clip_len,
        "input": {"name": "video", "shape": list(clip.shape), "layout": "(B, K, 3, S, S)",
                  "preprocessing": "BGR frames resized to SxS, /255, minus COCO mean, over std "
                                   "(iodvideo.data.transforms.ResizeNormalize)"},
        "outputs": list(OUTPUT_NAMES), "max_abs_diff": worst, "checks": checks,
        "tolerance": tolerance, "ok": worst <= tolerance,
    }
    for label, diffs in checks.items():
        text = ", ".join(f"{k} {v:.2e}" if isinstance(v, float) else f"{k}: {v}"
                         for k, v in diffs.items())
        print(f"verify {fmt} ({label}): max abs diff {text}")
    print(f"max abs diff {worst:.3e} (tolerance {tolerance:g}) -> "
          f"{'OK' if record['ok'] else 'MISMATCH'}: {path}")
    if not record["ok"]:
        raise ExportError(f"{path}: exported model differs from PyTorch by {worst:.3e} "
                          f"> tolerance {tolerance:g}")
    return record


def export(cfg: DictConfig) -> dict[str, Any]:
    if OmegaConf.is_missing(cfg, "ckpt") or not cfg.ckpt:
        raise ConfigError("ckpt=... is required (see --help)")
    fmt = str(cfg.format)
    if fmt not in FORMATS:
        raise ConfigError(f"format must be one of {FORMATS}, got {fmt!r}")
    detector, config = load_detector(str(cfg.ckpt))
    input_size = int(config_value(config, "data.input_size", 288))
    out_dir = Path(str(cfg.output_dir))
    path = Path(str(cfg.output)) if cfg.output else out_dir / (
        "model.onnx" if fmt == "onnx" else "model.pt")
    torch.manual_seed(int(cfg.seed))
    record = export_detector(detector, fmt, path, input_size,
                             int(cfg.batch_size), bool(cfg.dynamic_batch), int(cfg.opset),
                             float(cfg.tolerance), int(cfg.seed))
    record["checkpoint"] = str(cfg.ckpt)
    if config.get("original"):  # an authors' model: its provenance, audit and decoding
        record["original"] = config["original"]
    record["decoding"] = {"mode": "sta" if config_value(config, "evaluation.sta") else "mov",
                          "offset_scale": config_value(config, "evaluation.offset_scale", 18.0),
                          "sizes": config_value(config, "evaluation.sizes", "frame")}
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "export.json").write_text(json.dumps(record, indent=2))
    return record


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="export")
def main(cfg: DictConfig) -> None:
    with exit_on_user_error():
        export(cfg)


if __name__ == "__main__":
    main()
