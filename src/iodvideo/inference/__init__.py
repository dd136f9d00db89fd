"""Inference: devices, running a detector over a data loader's clips, and prediction on any
video or stream (:mod:`iodvideo.inference.stream`). Decoding and merging live in
:mod:`iodvideo.detections`."""
