"""A camera lost while recording (#23 item 3), with the real RTSP test camera and the real
API: the camera stops for a few seconds while its source records, `camera_lost` opens
within 2 s of the last packet the recorder read (measured from the recorder's own
last-packet time, as the event records it, never from the test's sleeps), and when the
camera is back `camera_back` closes it; a client of the live stream
(`GET /api/v1/event/stream`) sees both, as any other program would, over HTTP."""

from __future__ import annotations

from datetime import datetime

import pytest

from app.schemas import SourceIn
from tests.conftest import wait_until
from tests.support.event_stream import EventStreamClient

pytestmark = pytest.mark.rtsp


def moment(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def test_camera_lost_while_recording_then_back(station, api_server, rtsp_camera_small):
    camera = rtsp_camera_small
    source = station.sources.create(SourceIn(name="door", uri_rtsp=camera.url))
    wait_until(lambda: station.recorder.status(source.id)[0] == "online", 20,
               message="the camera online")
    station.recordings.start_one("visit", source.id)
    stream = EventStreamClient(api_server.url, f"source_id={source.id}")
    try:
        counters = lambda: station.recorder.counters()[source.id]  # noqa: E731
        wait_until(lambda: counters().recordings == 1 and counters().packets_read > 0, 10,
                   message="the recording written to")
        camera.stop()
        opened = stream.next(lambda m: m["event"]["kind"] == "camera_lost"
                             and m["change"] == "opened", timeout=15)
        lost = opened["event"]
        assert lost["severity"] == "alarm" and lost["end"] is None
        assert lost["data"]["recording"] is True and "door" in lost["text"]
        # within 2 s of the last packet the recorder read (its own clock, in the event)
        silent = (moment(lost["begin"]) - moment(lost["data"]["last_packet"])).total_seconds()
        assert 0 < silent <= 2.0, silent
        assert station.events.list(kind="camera_lost", open=True)[0].id == lost["id"]

        camera.start()  # back on the same port: the reader reconnects by itself
        closed = stream.next(lambda m: m["event"]["id"] == lost["id"]
                             and m["change"] == "closed", timeout=30)
        back = stream.next(lambda m: m["event"]["kind"] == "camera_back", timeout=5)
        assert closed["event"]["end"] is not None
        assert back["event"]["data"]["lost_event_id"] == lost["id"]
        (done,) = station.events.list(kind="camera_lost")
        assert moment(done.end) <= moment(back["event"]["begin"])
        assert station.events.open_alarms() == 0
    finally:
        stream.close()
