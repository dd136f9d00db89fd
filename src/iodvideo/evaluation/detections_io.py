"""Detections on disk: our per-video format and the original code's per-clip pickles.

* Ours: ``<dir>/<video key>.npy``, an ``(M, 6)`` float array ``frame, x1, y1, x2, y2, score``
  (1-based frames, original pixels): exactly what the evaluator scores.
* Original (protocol §8 step 5): ``<dir>/<video key>/<start:05d>.pkl``, one pickle per
  inference clip holding ``{1: float32 (N, 4K+1)}``: per tubelet the K boxes of frames
  start … start+K−1, then the tubelet score. Every clip start 1 … nframes−K+1 must be there
  (the reference aborts on a missing one; so do we, naming the file). The key is the 1-based
  class: with several classes a pickle holds ``{c + 1: tubelets of class c}`` (a missing
  key: no tubelet of that class).
* Ours with several classes: one directory per class name, ``<dir>/<label>/<video key>.npy``.

Pickles are read with an unpickler that only rebuilds numpy arrays and builtin containers.
Video keys contain a ``/`` (``TrueLeakedGas/002_...``), so both formats nest one directory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from iodvideo.detections.merge import clips_to_frame_detections
from iodvideo.errors import IODVideoError
from iodvideo.safe_pickle import restricted_loads


class DetectionError(IODVideoError):
    """Detections on disk are missing, malformed, or name videos that do not exist."""


def _load_clip_pickle(path: Path, columns: int | None, key: int = 1,
                      required: bool = True) -> np.ndarray:
    try:
        raw = restricted_loads(path.read_bytes())
    except FileNotFoundError:
        raise DetectionError(
            f"{path}: clip detections missing (every clip start is needed)"
        ) from None
    except Exception as err:  # noqa: BLE001 - any unpickling failure is the file's fault
        raise DetectionError(f"{path}: not a clip detection pickle ({err})") from None
    if not isinstance(raw, dict) or (required and key not in raw):
        raise DetectionError(f"{path}: expected a dict {{{key}: (N, 4K+1) array}}")
    if key not in raw:
        return np.empty((0, columns or 1), dtype=np.float64)
    array = np.asarray(raw[key], dtype=np.float64)
    if array.ndim != 2 or (array.size and (array.shape[1] - 1) % 4) or (
        columns is not None and array.size and array.shape[1] != columns
    ):
        raise DetectionError(f"{path}: tubelet array has shape {array.shape}, expected (N, 4K+1)")
    if not np.isfinite(array).all():
        raise DetectionError(f"{path}: NaN or infinite values in the tubelets")
    return array


def read_clip_tubelets(video_dir: Path, nframes: int, clip_len: int,
                       label: int | None = None) -> dict[int, np.ndarray]:
    """One video's per-clip pickles as ``{start: (N, 4K+1)}``: key 1 (the single class), or
    class ``label``'s key ``label + 1`` of a several-class run (absent: no tubelet)."""
    columns = 4 * clip_len + 1
    key = 1 if label is None else label + 1
    return {
        start: _load_clip_pickle(video_dir / f"{start:05d}.pkl", columns, key, label is None)
        for start in range(1, nframes - clip_len + 2)
    }


def read_clip_dir(video_dir: Path, nframes: int, clip_len: int,
                  label: int | None = None) -> np.ndarray:
    """One video's per-clip pickles → ``(M, 6)`` frame detections (reference §9.1 step 1)."""
    return clips_to_frame_detections(
        read_clip_tubelets(video_dir, nframes, clip_len, label), clip_len)


def read_video_npy(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except Exception as err:  # noqa: BLE001
        raise DetectionError(f"{path}: cannot read detections ({err})") from None
    if array.size and (array.ndim != 2 or array.shape[1] != 6):
        raise DetectionError(f"{path}: expected an (M, 6) array, got shape {array.shape}")
    array = np.asarray(array, dtype=np.float64).reshape(-1, 6)
    if not np.isfinite(array).all():
        raise DetectionError(f"{path}: NaN or infinite values in the detections")
    return array


def detections_on_disk(root: Path) -> set[str]:
    """Video keys present under ``root`` in either format."""
    found = {str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.npy")}
    found |= {str(p.parent.relative_to(root)) for p in root.rglob("*.pkl")}
    return found


def load_detections(
    root: str | Path,
    videos: Iterable[str],
    nframes: Mapping[str, int],
    clip_len: int = 8,
    allow_missing: bool = False,
    label: tuple[int, str] | None = None,
) -> tuple[dict[str, np.ndarray], list[str]]:
    """Frame detections of ``videos`` from ``root``, either format; returns (detections,
    videos without any detections). A video with no detections is an error unless
    ``allow_missing`` (then its GT boxes simply count as misses). ``label`` (index, name):
    one class of a several-class run, read from ``<root>/<name>/<video>.npy`` or from the
    per-clip pickles' key ``index + 1``."""
    root = Path(root)
    if not root.is_dir():
        raise DetectionError(f"{root}: detections directory not found")
    out: dict[str, np.ndarray] = {}
    missing: list[str] = []
    npy_root = root / label[1] if label is not None else root
    for video in videos:
        npy = npy_root / f"{video}.npy"
        clip_dir = root / video
        if npy.is_file():
            out[video] = read_video_npy(npy)
        elif clip_dir.is_dir() and any(clip_dir.glob("*.pkl")):
            out[video] = read_clip_dir(clip_dir, nframes[video], clip_len,
                                       None if label is None else label[0])
        else:
            missing.append(video)
    if missing and not allow_missing:
        shown = ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else "")
        raise DetectionError(
            f"{root}: no detections for {len(missing)} test video(s): {shown} (expected "
            f"<video>.npy or <video>/<start:05d>.pkl; pass allow_missing=true to score them as "
            "all misses)"
        )
    return out, missing


def save_detections(root: str | Path, detections: Mapping[str, np.ndarray]) -> None:
    """Write ``{video: (M, 6)}`` in our format under ``root``."""
    root = Path(root)
    for video, dets in detections.items():
        path = root / f"{video}.npy"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, np.asarray(dets, dtype=np.float64).reshape(-1, 6))
