"""Convert one of the authors' original checkpoints into an iodvideo checkpoint.

    python -m iodvideo.convert_checkpoint TEA_STA_K8S1_model_last.pth -o tea_sta_s1.ckpt

The output holds the mapped weights and the run config (backbone, K, legacy layout, the
original's preprocessing and decoding, the file it came from and the audit), so eval, predict,
monitor, export and ``train init_from=`` use it exactly like the original file — without
re-reading the original's layout every time. Every tensor is accounted for (the audit line is
printed); anything missing, unexpected or of the wrong shape stops with one error line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from iodvideo.checkpointing import save_detector_checkpoint
from iodvideo.errors import ConfigError, exit_on_user_error
from iodvideo.original_checkpoint import load_original, read_original


def convert(source: Path, output: Path, backbone: str | None = None,
            overwrite: bool = False) -> dict:
    """Read ``source`` (original format), check it, write ``output``; returns the config."""
    if output.exists() and not overwrite:
        raise ConfigError(f"{output}: exists (pass --overwrite to replace it)")
    ckpt = read_original(source)
    detector, config = load_original(source, ckpt, expected_backbone=backbone)
    save_detector_checkpoint(output, detector, config, epoch=config["original"]["epoch"])
    return config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m iodvideo.convert_checkpoint",
        description="Convert an original IOD-Video checkpoint (TEA_STA_K8S1_model_last.pth and "
                    "any file of the authors' training script, all nine backbones) into an "
                    "iodvideo .ckpt that eval/predict/monitor/export/train read.")
    parser.add_argument("source", type=Path, help="the original .pth file")
    parser.add_argument("-o", "--output", type=Path, required=True, help="the .ckpt to write")
    parser.add_argument("--backbone", default=None,
                        help="expected backbone (tea, tsm, ...): a file of another is an error")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = parser.parse_args(argv)
    with exit_on_user_error():
        config = convert(args.source, args.output, args.backbone, args.overwrite)
        info = config["original"]
        print(f"{args.source}: original {info['arch']} ({info['model_name']}, K={info['clip_len']})"
              f"; {info['audit']['summary']}")
        print(f"decoding: {info['decode_mode']} ({info['decode_mode_reason']})")
        print(f"wrote {args.output}")
    sys.exit(0)


if __name__ == "__main__":
    main()
