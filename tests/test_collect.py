"""scripts/collect.py: rows per settings group, mean over splits and their min–max spread."""

from __future__ import annotations

import csv
import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("collect", REPO / "scripts" / "collect.py")
collect = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(collect)


def _job(root: Path, name: str, backbone: str, split: int, ap: float) -> None:
    job = root / name
    job.mkdir(parents=True)
    record = {"config": {"backbone": backbone, "sta": False, "split": split},
              "metrics": {"test/AP@0.5": ap}}
    (job / "metrics.json").write_text(json.dumps(record))


def test_mean_and_spread_over_three_splits(tmp_path):
    for i, (split, ap) in enumerate([(1, 40.0), (2, 50.0), (3, 45.0)]):
        _job(tmp_path, str(i), "tsm", split, ap)
    _job(tmp_path, "3", "resnet", 1, 10.0)
    assert collect.main([str(tmp_path), "--metrics", "test/AP@0.5"]) == 0
    table = (tmp_path / "results.md").read_text()
    assert "| tsm | MOV | 1,2,3 | 45.00 [40.00–50.00] |" in table, table
    assert "| resnet | MOV | 1 | 10.00 |" in table, table  # one split: no spread
    rows = {r["backbone"]: r for r in csv.DictReader(open(tmp_path / "results.csv"))}
    assert rows["tsm"]["test/AP@0.5"] == "45.00"
    assert (rows["tsm"]["test/AP@0.5 min"], rows["tsm"]["test/AP@0.5 max"]) == ("40.00", "50.00")


def test_a_missing_metric_is_not_averaged(tmp_path):
    _job(tmp_path, "0", "tsm", 1, 40.0)
    job = tmp_path / "1"
    job.mkdir()
    (job / "metrics.json").write_text(json.dumps(
        {"config": {"backbone": "tsm", "sta": False, "split": 2}, "metrics": {}}))
    assert collect.main([str(tmp_path), "--metrics", "test/AP@0.5"]) == 0
    assert "| tsm | MOV | 1,2 | - |" in (tmp_path / "results.md").read_text()


def test_input_and_layout_columns_appear_when_they_vary(tmp_path):
    for name, motion, legacy in (("0", True, False), ("1", False, False), ("2", True, True)):
        job = tmp_path / name
        job.mkdir()
        config = {"backbone": "tsm", "sta": False, "split": 1, "motion_input": motion,
                  "legacy_layout": legacy}
        (job / "metrics.json").write_text(json.dumps(
            {"config": config, "metrics": {"test/AP@0.5": 10.0 + int(name)}}))
    assert collect.main([str(tmp_path), "--metrics", "test/AP@0.5"]) == 0
    table = (tmp_path / "results.md").read_text()
    assert "| backbone | sta | motion_input | legacy_layout | splits |" in table, table
    assert "| tsm | MOV | plain | clean | 1 | 11.00 |" in table, table
    assert "| tsm | MOV | motion | legacy | 1 | 12.00 |" in table, table


def test_the_table_notes_the_jobs_wall_time(tmp_path):
    for name, wall in (("0", 120.0), ("1", 180.0)):
        job = tmp_path / name
        job.mkdir()
        (job / "metrics.json").write_text(json.dumps(
            {"config": {"backbone": "tsm", "sta": False, "split": int(name) + 1},
             "metrics": {"test/AP@0.5": 1.0}, "wall_s": wall}))
    assert collect.main([str(tmp_path), "--metrics", "test/AP@0.5"]) == 0
    table = (tmp_path / "results.md").read_text()
    assert table.endswith("2 runs; job wall time 5.0 min in all, 2.0–3.0 min per job.\n"), table


def test_a_split_run_twice_is_flagged(tmp_path, capsys):
    _job(tmp_path, "0", "tsm", 1, 40.0)
    _job(tmp_path, "1", "tsm", 1, 50.0)
    assert collect.main([str(tmp_path), "--metrics", "test/AP@0.5"]) == 0
    assert "tsm MOV: 2 runs over 1 split(s)" in capsys.readouterr().err
