"""SynthIOD: synthetic infrared gas-leak videos in IOD-Video's exact on-disk layout.

The real frames are not available, so every default run, test and benchmark trains on this.
It is built to be hard in the same way: a faint, amorphous, turbulent grey plume over
cluttered grey scenes with sensor noise, moving cameras and moving distractors, visible
mainly through its motion. ``python -m iodvideo.synth`` is the command-line entry point.

Modules: ``config`` (SynthConfig), ``layout`` (names, splits, pickles), ``noise``,
``background`` (scenes, sky, the leak's hardware), ``plume`` / ``band`` (wide, flat layers) /
``fitted`` (gas), ``camera``, ``distractors`` (people, workers at the leak, vehicles, swaying
foliage and warm stems), ``sensor`` (noise, fixed pattern, drift, vignetting, automatic gain,
text), ``effects`` (shake, black-hot, letterbox, compression), ``footage`` (the user's own
background video), ``video`` (one video's parts), ``boxes``, ``render`` (one video's frames),
``writer`` (files), ``real`` (``trajectories=real``), ``generator`` (the dataset), ``stats``
(measured difficulty), ``preview`` (pictures).
"""

from iodvideo.data.synth.config import SynthConfig
from iodvideo.data.synth.generator import (
    DatasetPlan,
    SynthRootExistsError,
    generate_synthiod,
    plan_dataset,
    plan_videos,
)
from iodvideo.data.synth.layout import VideoPlan

__all__ = [
    "DatasetPlan",
    "SynthConfig",
    "SynthRootExistsError",
    "VideoPlan",
    "generate_synthiod",
    "plan_dataset",
    "plan_videos",
]
