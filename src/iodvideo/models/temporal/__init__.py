"""One module per temporal adapter family; importing registers each backbone.

| name    | module            | adapter                                                     |
|---------|-------------------|-------------------------------------------------------------|
| resnet  | frame.py          | none: 2D net per frame (the concat baseline)                |
| tsm     | shift.py          | fixed 1/8 + 1/8 channel shift, before conv1 and conv2       |
| tin     | interlace.py      | learned fractional shifts (pure-PyTorch interlace op)       |
| tam     | excitation.py     | temporal aggregation + temporal max-pooling between stages |
| tea     | excitation.py     | Res2Net + motion excitation + multiple temporal aggregation |
| tdn     | difference.py     | difference stem (K+4 frames) + mSE + learnable shift        |
| msnet   | motion_squeeze.py | TSM shift + MotionSqueeze correlation flow after layer2     |
| i3d/s3d | inflate3d.py      | 3D-inflated ResNet with temporal stride                     |

Shared: ``base.py`` (the timm body, adapter insertion, stage maps → per-frame maps),
``layout.py`` (frame layouts, the legacy scramble), ``ops.py`` (time-axis ops and their
traceable references) and ``kernels.py`` (every hand-written autograd kernel).
"""

import importlib
import pkgutil

from iodvideo.models.temporal.base import TemporalBackbone
from iodvideo.models.temporal.difference import TDNBackbone
from iodvideo.models.temporal.excitation import TAMBackbone, TEABackbone
from iodvideo.models.temporal.frame import FrameBackbone
from iodvideo.models.temporal.inflate3d import I3DBackbone, S3DBackbone
from iodvideo.models.temporal.interlace import TINBackbone
from iodvideo.models.temporal.motion_squeeze import MSNetBackbone
from iodvideo.models.temporal.shift import TSMBackbone

# Every module of this package is imported, so a new adapter file registers its backbone
# (``@register_backbone``) without an edit here; the names above are the public API.
for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = [
    "FrameBackbone",
    "I3DBackbone",
    "MSNetBackbone",
    "S3DBackbone",
    "TAMBackbone",
    "TDNBackbone",
    "TEABackbone",
    "TINBackbone",
    "TSMBackbone",
    "TemporalBackbone",
]
