"""HTTP stream inputs FFmpeg demuxes: MJPEG over HTTP (multipart/x-mixed-replace — here the
station's own MJPEG endpoint of another source); HLS from a plain web server is refused."""

from __future__ import annotations

import functools
import threading
import time
from fractions import Fraction
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import pytest

from app.schemas import GroupIn, SourceIn
from recorder.inputs import UNREACHABLE
from tests.conftest import TESTSRC, decode_video, wait_until


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hls_server(tmp_path: Path):
    """A 20 s HLS stream (1 s segments) served by a plain HTTP server on loopback."""
    folder = tmp_path / "hls"
    folder.mkdir()
    with av.open("testsrc2=size=320x240:rate=25", format="lavfi") as src, \
            av.open(str(folder / "index.m3u8"), "w", format="hls",
                    options={"hls_time": "1", "hls_list_size": "0", "hls_playlist_type": "vod"}) as out:
        stream = out.add_stream("libx264", rate=25, options={"preset": "ultrafast", "g": "25"})
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.codec_context.time_base = Fraction(1, 25)
        for index, frame in enumerate(src.decode(video=0)):
            if index >= 500:
                break
            frame.pts = index
            out.mux(stream.encode(frame.reformat(format="yuv420p")))
        out.mux(stream.encode(None))
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 functools.partial(_QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.m3u8"
    server.shutdown()


def _record(station, name: str, uri: str, seconds: float):
    source = station.sources.create(SourceIn(name=name, uri_rtsp=uri))
    group = station.groups.create(GroupIn(name=f"g-{name}"))
    station.groups.add_source(group.id, source.id)
    wait_until(lambda: station.sources.get(source.id).status == "online", 20,
               message=f"{name} online")
    time.sleep(1.0)
    station.recordings.start(f"t-{name}", f"g-{name}")
    time.sleep(seconds)
    [record] = station.recordings.stop(f"t-{name}")
    assert record.status.value == "finished", record.error
    return record


def test_hls_playlists_are_not_opened(station, hls_server):
    """A playlist names further URLs (its segments) that FFmpeg would fetch wherever they
    point, unchecked by the outgoing policy: no network input is read by the hls demuxer
    (docs/security.md, "Outgoing addresses"); it fails like any stream that is not one."""
    source = station.sources.create(SourceIn(name="hls", uri_rtsp=hls_server))
    wait_until(lambda: station.recorder.live_stats(source.id).retry_at is not None, 20,
               message="a failed attempt")
    got = station.sources.get(source.id)
    assert got.status == "offline" and got.error == UNREACHABLE


def test_mjpeg_over_http_is_recorded(station, api_server):
    pattern = station.sources.create(SourceIn(name="pattern", uri_rtsp=TESTSRC))
    url = f"{api_server.url.rstrip('/')}/api/v1/source/{pattern.id}/video?delay=0.1"
    record = _record(station, "mjpeg", url, 2.5)
    info = decode_video(record.location)
    assert info["codec"] == "mjpeg" and (info["width"], info["height"]) == (320, 240)
    assert info["frames"] >= 12 and info["monotonic"]  # about 10 pictures a second
