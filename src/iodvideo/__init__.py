"""iodvideo: insubstantial object detection (gas, steam, smoke) in infrared video."""

__version__ = "0.1.0"
