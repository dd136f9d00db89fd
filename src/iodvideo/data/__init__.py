"""Everything between files on disk and clip tensors: annotations, readers, clips, targets.

Nothing here knows about networks; ``datamodule.IODVideoDataModule`` is the one entry point
the trainer uses.
"""
