"""Generated media for the `/test/img` and `/test/video` self-checks: a JPEG and a short
MP4 made with the same encoders and muxer the station records with, so a client can tell
the station's picture and video paths work without any camera.

The front ends ask here rather than the recorder (they never import it: an import-linter
contract in pyproject.toml). Both are CPU work of a few milliseconds to a second: call them
off the GUI thread or the event loop.
"""

from __future__ import annotations

from recorder.selftest import make_test_image, make_test_video


def sample_jpeg() -> bytes:
    """A 640×360 gradient with the time of day burnt in, as JPEG."""
    return make_test_image()


def sample_mp4() -> bytes:
    """One second of FFmpeg's test pattern at 320×240, H.264 in MP4."""
    return make_test_video()
