"""The backbone side of reading the authors' original checkpoints (:mod:`.original`).

Every backbone class mixes in :class:`OriginalKeys` and sets what is particular to it, so the
knowledge of one original backbone's key layout lives in that backbone's own file:

- ``original_matches(shapes)``: whether a state dict (original names → shapes) holds this
  backbone (a key only it has, usually);
- ``original_prefix``: where the backbone's tensors sit (``backbone.``, or TSM/TIN's
  ``backbone.base_model.``); the neck's tensors sit there too;
- ``original_renames``: regex substitutions from the original's names (below the prefix) to
  ours (below ``backbone.``; ``body.`` is tried when the result is not ours as it stands);
- ``from_original``: override for tensors that change shape, not only name;
- ``original_unused``: original tensors the original's forward never reads (regex → why);
- ``original_options``: constructor options that make our backbone compute what the original
  did (``legacy_layout`` and the like), recorded in a converted model's config.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

import torch

# Blocks per stage → the timm body of that depth (the original builds ResNet-50 everywhere;
# ResNet-101 only where its constructor was asked for depth 101).
RESNET_DEPTHS = {(3, 4, 6, 3): "resnet50", (3, 4, 23, 3): "resnet101", (3, 8, 36, 3): "resnet152"}

Shapes = Mapping[str, tuple[int, ...]]


def stage_blocks(shapes: Shapes, prefix: str, stage_name: str = "layer{}") -> tuple[int, ...]:
    """Blocks per stage, counted from the keys ``<prefix><stage>.<block>.*``."""
    counts = []
    for stage in range(1, 5):
        head = re.escape(prefix + stage_name.format(stage)) + r"\.(\d+)\."
        blocks = {int(m.group(1)) for k in shapes if (m := re.match(head, k))}
        counts.append(max(blocks) + 1 if blocks else 0)
    return tuple(counts)


def has_key(shapes: Shapes, pattern: str) -> bool:
    return any(re.search(pattern, k) for k in shapes)


class OriginalKeys:
    """Defaults: a torchvision-named ResNet body under ``backbone.``, the classifier unused."""

    original_prefix: ClassVar[str] = "backbone."
    original_renames: ClassVar[tuple[tuple[str, str], ...]] = ()
    original_unused: ClassVar[Mapping[str, str]] = {
        r"^fc1?\.": "the ImageNet classifier, never called by the detector"}
    original_options: ClassVar[Mapping[str, Any]] = {"legacy_layout": True}
    original_depths: ClassVar[Mapping[tuple[int, ...], str]] = RESNET_DEPTHS
    original_stage_name: ClassVar[str] = "layer{}"

    @classmethod
    def original_matches(cls, shapes: Shapes) -> bool:
        return False

    @classmethod
    def original_model_name(cls, shapes: Shapes) -> str:
        """The timm body of the original's depth, from the number of blocks per stage."""
        from iodvideo.models.original import OriginalCheckpointError

        blocks = stage_blocks(shapes, cls.original_prefix, cls.original_stage_name)
        if blocks not in cls.original_depths:
            raise OriginalCheckpointError(
                f"{cls.__name__}: blocks per stage {blocks} match no known depth "
                f"({', '.join(f'{v} {k}' for k, v in cls.original_depths.items())})")
        return cls.original_depths[blocks]

    def original_name(self, key: str, own: Mapping[str, Any]) -> str | None:
        """Our name (below ``backbone.``) for an original name (below the prefix)."""
        name = key
        for pattern, replacement in self.original_renames:
            name = re.sub(pattern, replacement, name)
        for candidate in (name, f"body.{name}"):
            if candidate in own:
                return candidate
        return None

    def from_original(self, state: Mapping[str, torch.Tensor]
                      ) -> dict[str, tuple[str, torch.Tensor]]:
        """Ours (below ``backbone.``) → (original name below the prefix, tensor), for every
        original tensor this backbone takes; what it does not take is reported unexpected."""
        own = self.state_dict()  # type: ignore[attr-defined]
        out: dict[str, tuple[str, torch.Tensor]] = {}
        for key, tensor in state.items():
            name = self.original_name(key, own)
            if name is not None:
                out[name] = (key, tensor)
        return out
