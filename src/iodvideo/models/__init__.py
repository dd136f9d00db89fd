"""Networks: spatio-temporal backbones (``temporal/``), the shared neck, heads, detector.

Nothing here knows about files: inputs are ``(B, T, 3, H, W)`` tensors. Importing the
package imports ``temporal/``, whose adapters register themselves, so the backbone registry is
complete whenever anything from ``iodvideo.models`` is in use.
"""

from iodvideo.models import temporal  # noqa: F401  (registers every backbone)
