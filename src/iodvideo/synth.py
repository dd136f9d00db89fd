"""SynthIOD from the command line.

    python -m iodvideo.synth [root=DIR] [overwrite=true] [key=value ...]    # write the dataset
    python -m iodvideo.synth stats [key=value ...]     # how hidden is the gas? (nothing written)
    python -m iodvideo.synth preview [out=DIR] [key=value ...]  # contact sheets + GIFs

Composes ``conf/synth.yaml`` (the :class:`~iodvideo.data.synth.SynthConfig` fields plus the
command-line-only ``root``, ``overwrite`` and ``out``), writes the dataset atomically and prints
where it went and its size.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from iodvideo.config import CONFIG_DIR
from iodvideo.data.synth import SynthConfig, generate_synthiod, plan_videos
from iodvideo.errors import ConfigError, IODVideoError

COMMANDS = ("generate", "stats", "preview")
CLI_KEYS = ("root", "overwrite", "out")
_command = {"name": "generate"}


def _split(cfg: DictConfig) -> tuple[dict, SynthConfig]:
    """Separate the command-line-only keys from the SynthConfig fields (unknown keys refused)."""
    params = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(params, dict)
    cli = {key: params.pop(key) for key in CLI_KEYS if key in params}
    unknown = sorted(set(params) - set(SynthConfig.field_names()))
    if unknown:
        raise ConfigError(f"unknown synth parameters {unknown}; known: {SynthConfig.field_names()}")
    return cli, SynthConfig(**params)


def synth(cfg: DictConfig) -> Path:
    """Build the SynthConfig from ``cfg``, generate the dataset, print a one-line summary."""
    cli, config = _split(cfg)
    root = Path(str(cli.get("root", "data/synth")))
    overwrite = bool(cli.get("overwrite", False))
    videos = plan_videos(config)
    columns = (
        TextColumn("SynthIOD"), BarColumn(), MofNCompleteColumn(), TextColumn("videos"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, transient=True, disable=not sys.stdout.isatty()) as bar:
        task = bar.add_task("videos", total=len(videos))
        pickle_path = generate_synthiod(
            root, config, progress=lambda done, total: bar.update(task, completed=done),
            overwrite=overwrite,
        )
    frames = sum(v.nframes for v in videos)
    print(
        f"SynthIOD: wrote {len(videos)} videos / {frames} frames "
        f"({config.height}x{config.width}) to {root.absolute()} (annotations: {pickle_path.name})"
    )
    return pickle_path


def stats(cfg: DictConfig) -> dict:
    """Render ``num_videos`` videos in memory, print saliency/motion/box statistics and a
    table of issue 4's properties with their goals and PASS/FAIL (nothing is written)."""
    from iodvideo.data.synth.stats import (
        BOX_SAMPLE,
        box_statistics,
        check_properties,
        measure_with_tubes,
        sample_tubes,
        summarise,
    )

    _, config = _split(cfg)
    start = time.perf_counter()
    measured, tubes = measure_with_tubes(config)
    seconds = time.perf_counter() - start
    nframes = sum(len(t) for t in tubes.values())
    summary = summarise(measured)
    print(f"SynthIOD stats: {len(measured)} videos, {nframes} frames "
          f"({config.height}x{config.width}, seed {config.seed}, "
          f"difficulty {config.difficulty})")
    print("CCR = |mean(box) - mean(ring)| / std(ring), medians over videos; motion = mean "
          "|frame diff| in box / outside")
    print(f"{'group':15s} {'videos':>6s} {'CCR frame':>10s} {'CCR diff':>9s} "
          f"{'CCR std8':>9s} {'motion':>7s}")
    for group, row in summary.items():
        print(f"{group:15s} {int(row['videos']):6d} {row['ccr_frame']:10.2f} "
              f"{row['ccr_temporal']:9.2f} {row['ccr_std']:9.2f} {row['motion_ratio']:7.2f}")
    sample = sample_tubes(config)
    boxes = box_statistics(sample, config.height, config.width)
    checks = check_properties(summary, boxes)
    print()
    print(f"box statistics: tubes of {len(sample)} videos of this config (>= {BOX_SAMPLE}, "
          "no pixels); real = IOD-Video, protocol §1.4")
    width = max(len(c.name) for c in checks)
    goal_width = max(len(c.goal) for c in checks)
    print(f"{'property':{width}s}  {'goal':{goal_width}s}  measured")
    for c in checks:
        print(f"{c.name:{width}s}  {c.goal:{goal_width}s}  {c.measured}  "
              f"{'PASS' if c.ok else 'FAIL'}")
    passed = sum(c.ok for c in checks)
    print(f"{passed}/{len(checks)} properties pass; speed: {nframes / seconds:.0f} frames/s "
          "rendered+measured here (scripts/bench_synth.py measures generation alone)")
    return {"summary": summary, "checks": checks}


def preview(cfg: DictConfig) -> list[Path]:
    from iodvideo.data.synth.preview import write_previews

    cli, config = _split(cfg)
    out = Path(str(cli.get("out", "synth_preview")))
    written = write_previews(config, out)
    print(f"SynthIOD preview: wrote {len(written)} files to {out.absolute()}")
    return written


@hydra.main(config_path=CONFIG_DIR, config_name="synth", version_base="1.3")
def main(cfg: DictConfig) -> None:
    action = {"generate": synth, "stats": stats, "preview": preview}[_command["name"]]
    try:
        action(cfg)
    except IODVideoError as err:  # bad input: one clear line, no stack trace
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)


def run() -> None:
    """Entry point: an optional first word picks the command, the rest are Hydra overrides."""
    if len(sys.argv) > 1 and sys.argv[1] in COMMANDS:
        _command["name"] = sys.argv.pop(1)
    main()


if __name__ == "__main__":
    run()
