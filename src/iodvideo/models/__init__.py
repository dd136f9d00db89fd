"""Networks: spatio-temporal backbones (``temporal/``), the shared neck, heads, detector.

Nothing here knows about files: inputs are ``(B, T, 3, H, W)`` tensors.
"""
