"""Backbone registry: name → class, and what is known about each backbone.

Configs build backbones through Hydra ``_target_``; the registry is the one list of names
(adding a backbone = one file in ``temporal/``, one ``@register_backbone`` line, one yaml).
What the rest of the package must know about a backbone — how many context frames its clips
need, whether it mixes frames at all, whether it can run frame by frame online, which export
formats it cannot take — lives on the class as attributes and is read through
:func:`backbone_facts`, never from name lists elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

BACKBONES: dict[str, type] = {}


def register_backbone(name: str) -> Callable[[type], type]:
    def add(cls: type) -> type:
        if name in BACKBONES:
            raise ValueError(f"backbone {name!r} registered twice")
        BACKBONES[name] = cls
        cls.registry_name = name
        return cls

    return add


@dataclass(frozen=True)
class BackboneFacts:
    """Class-level facts of one registered backbone (see the attributes of
    :class:`~iodvideo.models.temporal.base.TemporalBackbone`)."""

    name: str
    context_frames: int = 0  # extra frames per clip side (TDN: 2)
    temporal: bool = True  # False: frames never meet inside the backbone (the concat baseline)
    online_streamable: bool = False  # a frame-by-frame online engine exists (TSM)
    # export format → why this backbone cannot be exported in it
    export_unsupported: Mapping[str, str] = field(default_factory=dict)
    # Where the reference orders the neck differently; reproduced only when the instance's
    # legacy switch is on (``legacy_layout``; resnet: ``legacy_per_frame``), read by the
    # detector (docs/backbones.md, "Legacy mode"):
    # the neck's L2Norm/upsampling run on the (B·T) stage map before the output reshape
    legacy_neck_before_reshape: bool = False  # TAM, TDN
    # in training the neck (resnet: the whole network) runs once per frame, so BatchNorm sees
    # per-frame statistics of B samples and updates its running stats K times per step
    legacy_per_frame_neck: bool = False  # TEA, TAM, TDN, I3D, S3D, MSNet, resnet


def backbone_facts(backbone: object) -> BackboneFacts:
    """Facts of a backbone given as registry name, class, instance or Hydra ``_target_``."""
    registered = BACKBONES  # complete: iodvideo.models imports temporal/
    if isinstance(backbone, str):
        if backbone in registered:
            cls = registered[backbone]
        else:  # a dotted _target_ such as iodvideo.models.temporal.shift.TSMBackbone
            short = backbone.rsplit(".", 1)[-1]
            found = [c for c in registered.values() if c.__name__ == short]
            if not found:
                names = ", ".join(sorted(registered))
                raise KeyError(f"unknown backbone {backbone!r} (registered: {names})")
            cls = found[0]
    else:
        cls = backbone if isinstance(backbone, type) else type(backbone)
    return BackboneFacts(
        name=getattr(cls, "registry_name", cls.__name__),
        context_frames=int(getattr(cls, "context_frames", 0)),
        temporal=bool(getattr(cls, "temporal", True)),
        online_streamable=bool(getattr(cls, "online_streamable", False)),
        export_unsupported=MappingProxyType(dict(getattr(cls, "export_unsupported", {}))),
        legacy_neck_before_reshape=bool(getattr(cls, "legacy_neck_before_reshape", False)),
        legacy_per_frame_neck=bool(getattr(cls, "legacy_per_frame_neck", False)),
    )
