"""``python -m iodvideo.data.convert`` import/export modes, called in-process (fast)."""

from __future__ import annotations

import pytest

from iodvideo.data.annotations import load_annotations
from iodvideo.data.convert import main

from .helpers import assert_same, hand_built_pickle


def test_help_documents_every_mode_with_an_example(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for example in ("--to videos", "--to frames", "--to coco -o", "--to csv -o",
                    "--from coco", "--from cvat", "--from csv", "--resolution 320x240"):
        assert example in text
    assert "synth.splits.json" in text and "<out>.splits.json" not in text


def test_export_then_import_through_the_cli(tmp_path, capsys):
    root = tmp_path / "root"
    root.mkdir()
    src = hand_built_pickle(root / "TrueLeakedGas.pkl")
    assert main([str(root), "--to", "coco", "-o", str(tmp_path / "a.json")]) == 0
    back = tmp_path / "mine" / "TrueLeakedGas.pkl"
    assert main(["--from", "coco", str(tmp_path / "a.json"), "-o", str(back)]) == 0
    out = capsys.readouterr()
    assert "imported 3 videos, 4 tubes" in out.out
    assert "warning" not in out.err  # several tubes per video are fine
    assert_same(load_annotations(src), load_annotations(back))
    assert main([str(src), "--to", "csv", "-o", str(tmp_path / "a.csv")]) == 0
    assert f"exported {src} to {tmp_path / 'a.csv'}, {tmp_path / 'a.splits.json'}" in (
        capsys.readouterr().out)


def test_csv_import_with_resolution_and_kfold(tmp_path, capsys):
    rows = "".join(f"v_{i},{f},1,1,5,5\n" for i in range(4) for f in (1, 2))
    (tmp_path / "b.csv").write_text("video,frame,x1,y1,x2,y2\n" + rows)
    out = tmp_path / "b.pkl"
    assert main(["--from", "csv", str(tmp_path / "b.csv"), "--resolution", "64x48",
                 "--scene-pattern", "(?P<scene>.+)", "--folds", "2", "-o", str(out)]) == 0
    ann = load_annotations(out)
    assert ann.resolution["v_0"] == (48, 64) and ann.num_splits == 2
    out = capsys.readouterr()
    assert "test videos 2/2" in out.out
    assert "warning: 4 video(s)" in out.err and "nframes" in out.err  # no nframes column


def test_bad_input_is_one_error_line_and_status_2(tmp_path, capsys):
    (tmp_path / "b.csv").write_text("video,frame,x1,y1,x2,y2\nv,1,5,5,1,1\nv,2,x,1,2,2\n")
    status = main(["--from", "csv", str(tmp_path / "b.csv"), "--resolution", "64x48",
                   "-o", str(tmp_path / "b.pkl")])
    err = capsys.readouterr().err
    assert status == 2 and err.startswith("error: ") and "Traceback" not in err
    assert "line 2: box" in err and "line 3: cannot parse x1='x'" in err
    assert main(["--from", "csv", str(tmp_path / "b.csv"), "--resolution", "64",
                 "-o", str(tmp_path / "b.pkl")]) == 2
    assert "expected WIDTHxHEIGHT" in capsys.readouterr().err


def test_usage_errors(tmp_path, capsys):
    for argv in (["--from", "csv", "x.csv"], [str(tmp_path), "--to", "coco"],
                 ["a", "b", "--to", "videos"], ["--from", "csv", "-o", "x.pkl"]):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
    capsys.readouterr()
