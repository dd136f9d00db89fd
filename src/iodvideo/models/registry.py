"""Backbone registry: name → class, so configs, docs and ``--help`` can list what exists.

Configs build backbones through Hydra ``_target_``; the registry is the one list of names
(adding a backbone = one file in ``temporal/``, one ``@register_backbone`` line, one yaml).
"""

from __future__ import annotations

from collections.abc import Callable

BACKBONES: dict[str, type] = {}


def register_backbone(name: str) -> Callable[[type], type]:
    def add(cls: type) -> type:
        if name in BACKBONES:
            raise ValueError(f"backbone {name!r} registered twice")
        BACKBONES[name] = cls
        cls.registry_name = name
        return cls

    return add
