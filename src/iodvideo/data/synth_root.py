"""Which folder a datamodule reads its SynthIOD set from, and generating it on first use.

Exists apart from :mod:`iodvideo.data.datamodule` because the rule is about files on disk, not
about clips: ``data.root`` is made to hold the set ``data.synth`` describes without ever
touching a set already there.

* ``root`` holds no set yet: it is generated there (:func:`generate_synth`).
* ``root`` holds a set whose ``synth.json`` (the generator's manifest: its version and every
  :class:`~iodvideo.data.synth.SynthConfig` field) matches the config: reused.
* ``root`` holds another set (another ``num_videos``, seed, size, ... — a demo or an older
  default, or another generator version): it is left as it is and the datamodule switches to
  a sibling folder named after the config, ``<root>-<num_videos>v-<digest of the config>``,
  reused if an earlier run generated it, generated otherwise; one line says which. The same
  config always picks the same sibling (``eval`` of the checkpoint finds it again). A set is
  neither reused for a smaller config nor extended for a larger one: the generator plans all
  videos (the clear/dynamic mix, the 3-fold splits) from ``num_videos``, so the first 6 videos
  of a 96-video set are not the 6-video set, nor its splits.
* ``root`` holds a pickle without ``synth.json`` (a set of generator version 1, or other
  data): nothing tells how it was made, so only its video count is checked and a mismatch is
  refused.

Every refusal is one ConfigError (or DatasetNotFoundError) line saying what to move away or
where to point ``data.root``.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from iodvideo.data.readers import FrameReader
from iodvideo.errors import ConfigError, DatasetNotFoundError

# SynthConfig fields that only shape the optional video files, not the frames and boxes
_VIDEO_FILE_FIELDS = ("video_format", "fps")


@dataclass(frozen=True)
class SynthRoot:
    """Where to read: the set's folder, its annotation pickle and a reader of its frames;
    ``generating_line`` is the line to print before generating there (None: the usual one)."""

    root: Path
    annotations_path: Path
    reader: FrameReader
    generating_line: str | None = None


def resolve_synth_root(root: Path, annotations_path: Path, reader: FrameReader,
                       synth: Mapping[str, Any], video_count: Callable[[], int]) -> SynthRoot:
    """The folder that holds (or will hold) the set ``synth`` describes, given the datamodule's
    ``root``, its annotation pickle and reader (see the module doc); ``video_count`` counts the
    videos of the pickle in ``root`` (only asked for a set without ``synth.json``). Nothing is
    generated or touched here."""
    from iodvideo.data.synth.generator import read_manifest

    here_already = SynthRoot(root, annotations_path, reader)
    if not annotations_path.is_file():
        return here_already
    manifest = read_manifest(root)
    if manifest is None:
        _check_synth_size(root, annotations_path, synth, video_count)
        return here_already
    wanted = _synth_settings(synth)
    differences = _synth_differences(manifest, wanted)
    if not differences:
        return here_already
    here = f"{root} holds another SynthIOD set ({', '.join(differences)})"
    fresh = root.with_name(f"{root.name}-{wanted['num_videos']}v-{_synth_digest(wanted)}")
    fresh_pickle = fresh / annotations_path.relative_to(root)
    if fresh_pickle.is_file():
        found = read_manifest(fresh)
        if found is None or _synth_differences(found, wanted):
            raise ConfigError(
                f"{here}; the folder for this config, {fresh}, holds yet another set: "
                f"move it away, or point data.root at a new folder")
        switched = SynthRoot(fresh, fresh_pickle, _rebased_reader(reader, root, fresh))
        print(f"SynthIOD: {here}, left as it is; using {fresh}, generated for this "
              "config earlier", flush=True)
        return switched
    if fresh.exists() and (not fresh.is_dir() or any(fresh.iterdir())):
        raise ConfigError(
            f"{here}; the folder for this config, {fresh}, is not empty but holds no "
            f"{fresh_pickle.name}: move it away, or point data.root at a new folder")
    return SynthRoot(fresh, fresh_pickle, _rebased_reader(reader, root, fresh),
                     f"SynthIOD: {here}, left as it is; generating the configured set into "
                     f"{fresh} (first use only) ...")


def generate_synth(root: Path, annotations_path: Path, synth: Mapping[str, Any] | None,
                   generating_line: str | None = None) -> None:
    """Generate the ``synth`` set into ``root``, whose ``annotations_path`` is absent: only
    into a new or empty folder; without ``synth`` (real data) a missing pickle is an error
    that says how to get data."""
    if synth is None:
        raise DatasetNotFoundError(
            f"{annotations_path} not found: point data.root at an IOD-Video copy, or "
            f"generate synthetic data with `python -m iodvideo.synth root={root}` "
            "(or use data=synth)"
        )
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise DatasetNotFoundError(
            f"{annotations_path} not found, and {root} is not an empty folder to "
            "generate SynthIOD into (nothing there is touched): point data.root at a new "
            "folder, or at an IOD-Video copy")
    from iodvideo.data.synth import SynthConfig, generate_synthiod

    print(generating_line or f"SynthIOD: generating {root} (first use only) ...", flush=True)
    generate_synthiod(root, SynthConfig(**synth))


def _check_synth_size(root: Path, annotations_path: Path, synth: Mapping[str, Any],
                      video_count: Callable[[], int]) -> None:
    """A set without ``synth.json`` (generator version 1, or not SynthIOD) of another
    ``num_videos`` than the config's would silently give other validation/test videos:
    refuse it (nothing tells what else differs, so a matching count is accepted)."""
    if "num_videos" not in synth:
        return
    found = video_count()
    wanted = int(synth["num_videos"])
    if found != wanted:
        raise ConfigError(
            f"{annotations_path}: this SynthIOD set has {found} videos, the config "
            f"asks for data.synth.num_videos={wanted}, and it has no synth.json saying how "
            f"it was made (an older version's set, or not SynthIOD); delete {root} to "
            f"regenerate it (or point data.root at a new folder)"
        )


def _synth_settings(synth: Mapping[str, Any]) -> dict[str, Any]:
    """Every SynthConfig field of ``data.synth`` (defaults filled in), as synth.json writes
    them (JSON types: tuples become lists)."""
    from iodvideo.data.synth import SynthConfig

    return json.loads(json.dumps(asdict(SynthConfig(**synth))))


def _synth_differences(manifest: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """What separates the set of ``manifest`` (synth.json) from the ``wanted`` settings, as
    short phrases (empty: the same set). A field the manifest lacks (written before the field
    existed) counts as its default; the video-file fields are ignored when no video files
    are asked for (the frames are the same)."""
    from iodvideo.data.synth import SynthConfig
    from iodvideo.data.synth.generator import GENERATOR_VERSION

    out = []
    if manifest.get("generator") != GENERATOR_VERSION:
        out.append(f"generator version {manifest.get('generator')}, this one writes "
                   f"{GENERATOR_VERSION}")
    have = dict(manifest.get("config") or {})
    defaults = json.loads(json.dumps({f.name: f.default for f in fields(SynthConfig)}))
    for key, value in wanted.items():
        if key in _VIDEO_FILE_FIELDS and wanted.get("video_format") == "none":
            continue
        old = have.get(key, defaults.get(key))
        if old != value:
            out.append(f"{key} {_short(old)} where the config asks {_short(value)}")
    if len(out) > 3:
        out = [*out[:3], f"{len(out) - 3} more"]
    return out


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _synth_digest(wanted: Mapping[str, Any]) -> str:
    """8 hex digits naming the set of ``wanted`` settings and this generator version."""
    from iodvideo.data.synth.generator import GENERATOR_VERSION

    key = json.dumps({"generator": GENERATOR_VERSION, "config": wanted}, sort_keys=True)
    return hashlib.sha256(key.encode()).hexdigest()[:8]


def _rebased_reader(reader: FrameReader, old: Path, new: Path) -> FrameReader:
    """A copy of ``reader`` reading under ``new`` what it read under ``old`` (its
    ``frames_root`` / ``videos_root``; a copy drops a video reader's open files, see
    ``VideoFileReader.__getstate__``); a reader of files outside ``old`` cannot follow."""
    for attribute in ("frames_root", "videos_root"):
        where = getattr(reader, attribute, None)
        if where is None:
            continue
        try:
            inside = Path(where).relative_to(old)
        except ValueError:
            break
        moved = copy.copy(reader)
        setattr(moved, attribute, new / inside)
        return moved
    source = getattr(reader, "frames_root", None) or getattr(reader, "videos_root", reader)
    raise ConfigError(
        f"data.reader reads its files from {source}, not under data.root={old}, so it cannot "
        f"follow the switch to {new}; point data.root at a new folder")
