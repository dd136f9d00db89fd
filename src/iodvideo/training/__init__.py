"""Training: what ``python -m iodvideo.train`` fits a detector with.

The Lightning module (:mod:`~iodvideo.training.lightning_module`: loss, validation frameAP,
non-finite-loss stop), the learning-rate schedules (:mod:`~iodvideo.training.schedules`), the
callbacks (:mod:`~iodvideo.training.bn_calibration`: BatchNorm statistics recalibrated before
validation; :mod:`~iodvideo.training.callbacks`: validation images for the loggers) and
fine-tuning from a trained file (:mod:`~iodvideo.training.init_from`, ``init_from=``).

Why a package: these modules are one layer, above evaluation and inference and below the
command-line modules (tests/test_architecture.py). The library below (models, detections,
checkpointing, evaluation, inference) never imports them, so loading and running a trained
detector needs none of this. Import the submodules directly; nothing is re-exported here.
"""
