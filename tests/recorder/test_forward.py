"""Live forwarding to a real RTMP server (nginx-rtmp on loopback), read back with PyAV."""

from __future__ import annotations

import threading
import time

import av
import pytest

from recorder.manager import RecorderManager
from recorder.worker import SourceSpec
from tests.conftest import wait_until
from tests.support.rtmp_server import RTMP_PLAY, RtmpServer, skip_reason

SOURCE = "testsrc://testsrc2?size=320x240&rate=25&gop=1"


@pytest.fixture
def rtmp_server():
    reason = skip_reason()
    if reason:  # `make test` installs the packages: missing ones are a failure
        pytest.fail(reason)
    server = RtmpServer().start()
    yield server
    server.stop()


def _play(url: str, frames: int, timeout: float = 15.0) -> list[tuple[int, int, float]]:
    """Read `frames` decoded frames of a live RTMP stream: (width, height, seconds)."""
    got: list[tuple[int, int, float]] = []
    with av.open(url, timeout=(timeout, 5.0), options=RTMP_PLAY) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            got.append((frame.width, frame.height, float(frame.time or 0)))
            if len(got) >= frames:
                break
    return got


def test_a_source_is_forwarded_live_and_survives_a_server_restart(rtmp_server):
    manager = RecorderManager()
    try:
        manager.ensure_source(SourceSpec(1, "pattern", SOURCE))
        wait_until(lambda: manager.status(1)[0] == "online", 20, message="online")
        time.sleep(1.2)
        forward = manager.start_forward(1, "job-1", rtmp_server.url("cam1"))
        wait_until(lambda: forward.status == "online", 10, message="forward online")
        frames = _play(rtmp_server.url("cam1"), 50)
        assert len(frames) == 50 and {(w, h) for w, h, _ in frames} == {(320, 240)}
        times = [t for _, _, t in frames]
        assert all(b > a for a, b in zip(times, times[1:]))  # live, in order
        assert times[-1] - times[0] == pytest.approx(49 / 25, abs=0.1)

        # the server goes away: the source and its reader carry on, the forward retries
        port = rtmp_server.port
        rtmp_server.stop()
        wait_until(lambda: forward.status == "offline", 15, message="forward offline")
        assert manager.status(1)[0] == "online"
        rtmp_server.port = port
        rtmp_server.start()
        wait_until(lambda: forward.status == "online", 45, message="forward back online")
        assert len(_play(rtmp_server.url("cam1"), 10)) == 10

        manager.stop_forward(1, "job-1")
        assert manager.status(1)[0] == "online"
        leftover = [t.name for t in threading.enumerate() if t.name.startswith("forward-")]
        assert not leftover
    finally:
        manager.shutdown()


def test_a_forward_connects_only_where_the_outgoing_policy_allows(rtmp_server):
    """The RTMP server's address is checked when the forward connects: a metadata address
    never, and a loopback server not when the operator's networks leave loopback out."""
    from recorder.outgoing import OutgoingPolicy

    manager = RecorderManager()
    try:
        manager.ensure_source(SourceSpec(1, "pattern", SOURCE,
                                         policy=lambda: OutgoingPolicy(["10.0.0.0/8"])))
        wait_until(lambda: manager.status(1)[0] == "online", 20, message="online")
        for job, url in (("job-a", "rtmp://169.254.169.254/live/x"),
                         ("job-b", rtmp_server.url("cam-refused"))):
            forward = manager.start_forward(1, job, url)
            wait_until(lambda: forward.status == "offline", 10, message="forward refused")
            assert "station never opens" in forward.error or "allowed_source_networks" in forward.error
        assert manager.status(1)[0] == "online"  # the source itself goes on
    finally:
        manager.shutdown()
