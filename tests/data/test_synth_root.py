"""A SynthIOD set already in ``data.root``: reused when it is the configured one, otherwise left
untouched and the configured set used (or generated) in a sibling folder named after the config
(``IODVideoDataModule._use_configured_synth``). Tiny sets: 3-4 videos of 2 frames, 32 px."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import iodvideo.data.synth as synth_package
from iodvideo.data.datamodule import IODVideoDataModule
from iodvideo.data.readers import FrameFolderReader, VideoFileReader
from iodvideo.errors import ConfigError

TINY = {"num_videos": 3, "min_frames": 2, "max_frames": 2, "height": 32, "width": 32}


def module(root: Path, reader=None, **synth) -> IODVideoDataModule:
    """The datamodule as Hydra builds it from conf/data/synth.yaml: the reader's folder is
    ``<root>/Frames``, given explicitly."""
    reader = reader or FrameFolderReader(root / "Frames")
    return IODVideoDataModule(str(root), reader=reader, clip_len=2, input_size=32,
                              synth={**TINY, **synth})


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` with its size and modification time."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def no_generation(monkeypatch):
    """Fail if the datamodule generates anything (it imports generate_synthiod when needed)."""
    def refuse(*args, **kwargs):
        raise AssertionError("generated a set that should have been reused")

    monkeypatch.setattr(synth_package, "generate_synthiod", refuse)


def test_the_configured_set_is_generated_then_reused(tmp_path, capsys, monkeypatch):
    root = tmp_path / "synth"
    module(root).prepare_data()
    assert "generating" in capsys.readouterr().out
    assert (root / "synth.json").is_file()
    before = snapshot(root)
    monkeypatch.setattr(synth_package, "generate_synthiod",
                        lambda *a, **k: pytest.fail("regenerated a matching set"))
    again = module(root)
    again.prepare_data()
    again.setup("fit")
    assert again.root == root and capsys.readouterr().out == ""
    assert len(again.annotations.nframes) == 3 and snapshot(root) == before


def test_another_set_is_left_alone_and_the_configured_one_goes_beside_it(tmp_path, capsys,
                                                                          monkeypatch):
    """A 3-video demo in data/synth, then a run asking for 4: the demo stays byte for byte,
    the 4-video set is generated into data/synth-4v-<digest> (one line says so), and the
    next run with that config reuses it without generating; the demo's config still reads
    the demo."""
    root = tmp_path / "synth"
    module(root).prepare_data()
    demo = snapshot(root)
    capsys.readouterr()
    bigger = module(root, num_videos=4)
    bigger.prepare_data()
    line = capsys.readouterr().out.strip()
    fresh = bigger.root
    assert fresh.parent == tmp_path and fresh.name.startswith("synth-4v-")
    assert line.count("\n") == 0 and str(root) in line and str(fresh) in line
    assert "num_videos 3 where the config asks 4" in line and "left as it is" in line
    assert "generating" in line
    assert snapshot(root) == demo  # the demo set is untouched
    assert len(bigger.annotations.nframes) == 4
    assert json.loads((fresh / "synth.json").read_text())["config"]["num_videos"] == 4
    assert bigger.reader.frames_root == fresh / "Frames"  # the frames follow the pickle
    video = next(iter(bigger.annotations.nframes))
    assert bigger.reader.read(video, [1, 2]).shape == (2, 32, 32, 3)
    assert (fresh / "Frames" / video).is_dir()

    monkeypatch.setattr(synth_package, "generate_synthiod",
                        lambda *a, **k: pytest.fail("regenerated the sibling set"))
    later = module(root, num_videos=4)
    later.setup("fit")  # setup alone (another process, no prepare_data) also switches
    line = capsys.readouterr().out.strip()
    assert later.root == fresh and "using" in line and "generated for this config earlier" in line
    assert len(later.annotations.nframes) == 4
    first = module(root)
    first.prepare_data()
    assert first.root == root and capsys.readouterr().out == ""


def test_a_set_differing_in_another_setting_is_not_reused(tmp_path, capsys):
    """Same number of videos, another seed: the old code accepted it silently."""
    root = tmp_path / "synth"
    module(root).prepare_data()
    capsys.readouterr()
    other = module(root, seed=5)
    other.prepare_data()
    assert other.root.name.startswith("synth-3v-")
    assert "seed 0 where the config asks 5" in capsys.readouterr().out
    assert module(root, num_videos=4).root == root  # nothing decided before prepare_data
    others = [module(root, seed=s, num_videos=4) for s in (5, 6)]
    for data in others:
        data.prepare_data()
    assert len({d.root for d in others}) == 2  # one folder per config


def test_a_sibling_holding_other_files_is_refused_not_overwritten(tmp_path, capsys):
    root = tmp_path / "synth"
    module(root).prepare_data()
    probe = module(root, num_videos=4)
    probe.prepare_data()
    sibling = probe.root
    capsys.readouterr()
    # replace the sibling's set by the user's own files
    for path in sorted(sibling.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (sibling / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"synth-4v-.*not empty.*move it away"):
        module(root, num_videos=4).prepare_data()
    assert (sibling / "notes.txt").read_text() == "mine"
    # ... or another set under that name (a changed manifest)
    (sibling / "notes.txt").unlink()
    synth_package.generator.generate_synthiod(
        sibling, synth_package.SynthConfig(**{**TINY, "seed": 9}), overwrite=True)
    with pytest.raises(ConfigError, match=r"holds yet another set"):
        module(root, num_videos=4).prepare_data()


def test_a_video_reader_follows_and_a_foreign_reader_is_refused(tmp_path, capsys):
    root = tmp_path / "synth"
    module(root).prepare_data()
    videos = VideoFileReader(root / "Videos")
    data = module(root, reader=videos, num_videos=4)
    data.prepare_data()
    assert data.reader is not videos and data.reader.videos_root == data.root / "Videos"
    assert data.reader._open == {} and videos.videos_root == root / "Videos"
    elsewhere = FrameFolderReader(tmp_path / "elsewhere" / "Frames")
    with pytest.raises(ConfigError, match=r"elsewhere/Frames, not under data.root"):
        module(root, reader=elsewhere, seed=3).prepare_data()


def test_a_set_without_manifest_keeps_the_count_check(tmp_path, no_generation):
    """A pickle without synth.json (generator version 1, or not SynthIOD): nothing tells how
    it was made; another count is refused as before, the same count accepted."""
    root = tmp_path / "synth"
    synth_package.generator.generate_synthiod(root, synth_package.SynthConfig(**TINY))
    os.remove(root / "synth.json")
    module(root, seed=4).prepare_data()  # same count: accepted (cannot tell the seed)
    with pytest.raises(ConfigError, match=r"has 3 videos.*num_videos=4.*no synth\.json.*delete"):
        module(root, num_videos=4).prepare_data()
    assert not list(tmp_path.glob("synth-*"))


def test_a_folder_of_other_files_is_not_generated_into(tmp_path):
    """data.root holding the user's files but no pickle: one line, nothing touched (the
    generator's own refusal suggested its CLI's overwrite=true, no option of train)."""
    from iodvideo.errors import DatasetNotFoundError

    root = tmp_path / "mine"
    root.mkdir()
    (root / "notes.txt").write_text("mine")
    with pytest.raises(DatasetNotFoundError, match=r"not an empty folder .*\(nothing there is "
                                                    r"touched"):
        module(root).prepare_data()
    assert [p.name for p in root.iterdir()] == ["notes.txt"]
