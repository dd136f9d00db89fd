"""A live web page for the stream monitor (``python -m iodvideo.monitor serve.enabled=true``).

The detector loop and the web server share nothing but a :class:`~.hub.Hub` (latest frame,
bounded event history, figures), so no viewer can slow the detector: :mod:`.hub` (shared
state), :mod:`.publisher` (the monitor's side), :mod:`.app` (Starlette routes),
:mod:`.streams` (MJPEG and Server-Sent Events), :mod:`.imaging` (drawing, JPEG),
:mod:`.page` (the HTML), :mod:`.auth` (token rules), :mod:`.options` (``serve.*``),
:mod:`.server` (uvicorn in a thread).
"""

from iodvideo.inference.serve.app import AppSettings, create_app
from iodvideo.inference.serve.hub import FrameView, Hub
from iodvideo.inference.serve.options import ServeOptions
from iodvideo.inference.serve.publisher import HubPublisher, follow_calibration, paced
from iodvideo.inference.serve.server import ServerThread, linger

__all__ = ["AppSettings", "FrameView", "Hub", "HubPublisher", "ServeOptions", "ServerThread",
           "create_app", "follow_calibration", "linger", "paced"]
