"""The URI policy (app.uri_policy) on its own and through the services: what real cameras use
is accepted, every way of smuggling an FFmpeg protocol or a file is refused, media_dirs is
read live, callbacks never leave http(s)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.dialects.huawei.callbacks import CallbackSender
from app.errors import InvalidInput
from app.schemas import SourceIn
from app.station import apply_settings
from app.uri_policy import (CALLBACK_SCHEMES, FORWARD_SCHEMES, PICTURE_SCHEMES, SOURCE_SCHEMES,
                            check_uri)
from tests.conftest import make_settings, wait_until

CAMERAS = [
    "rtsp://admin:pa:ss@192.168.1.64:554/Streaming/Channels/101",
    "rtsp://data:concat:pw@cam/live",  # user-info is never a protocol
    "rtsp://cam/cam/realmonitor?channel=1&subtype=0",
    "rtsp://[fd12::1]:8554/stream#udp",  # fe80:: (link-local) is never opened: see below
    "rtsp://cam/onvif?time=12:30",
    "rtsps://cam.example.com/live",
    "rtmp://127.0.0.1/live/stream-key",
    "http://127.0.0.1:8080/hls/index.m3u8",
    "https://cam.example.com/mjpg/video.mjpg?resolution=640x480",
    "srt://:9000?mode=listener",
    "srt://10.0.0.2:9000?mode=caller&passphrase=secret",
    "udp://@239.0.0.1:1234",
    "tcp://10.0.0.3:5000",
    "testsrc://testsrc2?size=640x360&rate=25&gop=2",
    "testsrc://?size=320x240&rate=5",
    "screen://:0.0",
    "screen://:1+10,20",
    "device:///dev/video0",
    "device:///dev/v4l/by-id/usb-Cam_123-video-index0",
]

REFUSED = [
    "file:///etc/passwd", "file:/etc/passwd", "file:concat:/etc/passwd|/etc/hostname",
    "FILE:///etc/passwd", "concat:/a|/b", "subfile:,,start,0,end,1,,:/etc/passwd",
    "data:,x", "pipe:1", "fd:3", "crypto:/x", "async:http://x/", "cache:http://x/", "tee:a|b",
    "gopher://x/", "ftp://x/a.mp4", "hls+http://x/a.m3u8", "http+file://x",
    "http://x/concat:/etc/passwd", "http://x/?u=file:/etc/passwd", "http://x/#data:,1",
    "http://x/%66ile:/etc/passwd", "http://x/?u=%2566ile%253a/x", "http://x/?u=HLS+FILE:/x",
    "http://concat:/etc/passwd", "http://x:0/", "http://x:70000/", "http:///nohost",
    "http://x/a b", "http://x/\x00", "rtsp://x\n/", "device:///etc/passwd",
    "device:///dev/../etc/video0", "screen://evil.example:0", "screen://:0?x=1",
    "testsrc://movie?size=640x360", "rtsp://" + "a" * 5000,
]


@pytest.mark.parametrize("uri", CAMERAS)
def test_real_camera_addresses_are_accepted(uri):
    assert check_uri(uri, field="uri_rtsp", schemes=SOURCE_SCHEMES) == uri


@pytest.mark.parametrize("uri", REFUSED)
def test_protocols_files_and_bad_hosts_are_refused_naming_the_field(uri):
    with pytest.raises(InvalidInput) as exc:
        check_uri(uri, field="uri_rtsp", schemes=SOURCE_SCHEMES)
    assert exc.value.field == "uri_rtsp" and exc.value.message.startswith("uri_rtsp")


def test_each_use_has_its_own_schemes():
    for uri, schemes in (("rtsp://cam/x", PICTURE_SCHEMES), ("http://x/live", FORWARD_SCHEMES),
                         ("rtmp://x/live", CALLBACK_SCHEMES), ("testsrc://", PICTURE_SCHEMES)):
        with pytest.raises(InvalidInput):
            check_uri(uri, field="f", schemes=schemes)
    assert check_uri("rtmps://x/app/key", field="f", schemes=FORWARD_SCHEMES)


def test_media_dirs_resolve_symlinks_and_dots(tmp_path):
    media, outside = tmp_path / "media", tmp_path / "outside"
    media.mkdir(), outside.mkdir()
    (outside / "secret.mp4").write_bytes(b"x")
    (media / "link.mp4").symlink_to(outside / "secret.mp4")
    (media / "inner").symlink_to(outside, target_is_directory=True)
    ok = f"file://{media}/clip.mp4"  # need not exist: existence is never asked
    assert check_uri(ok, field="uri_rtsp", schemes=SOURCE_SCHEMES, media_dirs=[media]) == ok
    messages = set()
    for uri in (f"file://{media}/link.mp4", f"file://{media}/inner/secret.mp4",
                f"file://{media}/../outside/secret.mp4", f"file://{media}/../outside/none.mp4",
                f"file://{media}", f"file://{tmp_path}/media-not/x.mp4"):
        with pytest.raises(InvalidInput) as exc:
            check_uri(uri, field="uri_rtsp", schemes=SOURCE_SCHEMES, media_dirs=[media])
        messages.add(exc.value.message)
    assert len(messages) == 1  # the same words whatever lies behind the path


def test_media_dirs_and_max_sources_are_read_live(tmp_path):
    from app.station import build_station, start_station, stop_station

    media = tmp_path / "media"
    media.mkdir()
    station = build_station(make_settings(tmp_path, media_dirs=[], max_sources=2))
    start_station(station)
    try:
        uri = f"file://{media}/clip.mp4"
        with pytest.raises(InvalidInput) as exc:
            station.sources.create(SourceIn(name="f", uri_rtsp=uri))
        assert exc.value.field == "uri_rtsp"
        apply_settings(station, make_settings(tmp_path, media_dirs=[media], max_sources=2))
        source = station.sources.create(SourceIn(name="f", uri_rtsp=uri, enabled=True))
        station.sources.create(SourceIn(name="g", uri_rtsp="rtsp://127.0.0.1:1/x", enabled=False))
        with pytest.raises(InvalidInput) as exc:
            station.sources.create(SourceIn(name="h", uri_rtsp="rtsp://127.0.0.1:1/x"))
        assert exc.value.field == "max_sources" and "2" in exc.value.message
        # the folder leaves media_dirs: the stored source is refused at its next attempt
        apply_settings(station, make_settings(tmp_path, media_dirs=[], max_sources=2))
        station.recorder.remove_source(source.id)
        station.sources.start_all()
        wait_until(lambda: station.sources.get(source.id).status.value == "error", 10,
                   message="refused")
        assert "refused" in station.sources.get(source.id).error
    finally:
        stop_station(station)


class _Receiver(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_POST(self):  # noqa: N802
        self.hits.append(self.path)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(302 if self.path == "/redirect" else 200)
        self.send_header("Location", "file:///etc/passwd")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_callbacks_go_to_http_only_and_follow_no_redirect(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    built: list[str] = []
    sender = CallbackSender(first_delay_s=0.05, max_attempts=2)
    try:
        for url in ("file:///etc/passwd", "ftp://127.0.0.1/x", "data:,x", f"{base}/?u=file:/x"):
            sender.post(url, lambda url=url: built.append(url) or {})
        assert sender.pending() == 0 and built == []
        sender.post(f"{base}/redirect", lambda: {"n": 1})
        sender.post(f"{base}/ok", lambda: {"n": 2})
        deadline = time.monotonic() + 10
        while "/ok" not in _Receiver.hits and time.monotonic() < deadline:
            time.sleep(0.05)
        # the redirect was not followed (two attempts at /redirect, then on to /ok)
        assert _Receiver.hits == ["/redirect", "/redirect", "/ok"]
    finally:
        sender.close(1)
        server.shutdown()


@pytest.mark.parametrize("uri", [
    "http://169.254.169.254/latest/meta-data/", "rtsp://[fe80::1]:8554/stream#udp",
    "rtsp://[fd00:ec2::254]/x", "tcp://0.0.0.0:80/x.nfo", "http://[::ffff:169.254.169.254]/",
    "rtmp://100.100.100.200/live/x", "srt://169.254.169.254:9000?mode=caller"])
def test_addresses_no_policy_allows_are_refused_when_saved(uri):
    with pytest.raises(InvalidInput, match="uri_rtsp"):
        check_uri(uri, field="uri_rtsp", schemes=SOURCE_SCHEMES)


def test_the_operators_networks_apply_to_addresses_and_names_pass():
    from recorder.outgoing import OutgoingPolicy
    policy = OutgoingPolicy(["10.0.0.0/8"])
    assert check_uri("rtsp://10.1.2.3/x", field="uri_rtsp", schemes=SOURCE_SCHEMES, policy=policy)
    with pytest.raises(InvalidInput, match="allowed_source_networks"):
        check_uri("rtsp://127.0.0.1/x", field="uri_rtsp", schemes=SOURCE_SCHEMES, policy=policy)
    # a name is checked on what it resolves to when the station connects, not here
    assert check_uri("rtsp://localhost/x", field="uri_rtsp", schemes=SOURCE_SCHEMES, policy=policy)
    # udp listens: an unspecified address is where it binds, a group what it joins
    assert check_uri("udp://0.0.0.0:5000", field="uri_rtsp", schemes=SOURCE_SCHEMES, policy=policy)
    assert check_uri("udp://239.1.1.1:5000", field="uri_rtsp", schemes=SOURCE_SCHEMES, policy=policy)


def test_an_upgrade_keeps_the_hosts_it_had_until_the_operator_sets_the_networks(tmp_path):
    """Sources stored before allowed_source_networks existed keep working (their hosts join
    the default networks) while the setting is unset; a setting given explicitly (also live)
    is what holds, and metadata addresses are never taken over."""
    from app.models import Source
    from app.station import build_station

    station = build_station(make_settings(tmp_path))
    with station.catalog.session() as s:
        for n, uri in enumerate(("rtsp://203.0.113.7/x", "rtsp://Cam.Example.org:554/x",
                                 "http://169.254.169.254/x", "rtsp://10.1.2.3/x")):
            s.add(Source(name=f"old{n}", uri_rtsp=uri, enabled=False))
    station.catalog.close()
    station = build_station(make_settings(tmp_path))
    try:
        policy = station.outgoing()
        assert policy.refusal("203.0.113.7") is None
        assert policy.refusal("198.51.100.1", host="cam.example.org") is None
        assert policy.refusal("203.0.113.8") is not None
        assert policy.refusal("169.254.169.254") is not None
        assert policy.refusal("192.168.1.9") is None  # the default networks stay
        # the operator sets the networks: exactly those, also on a running station
        apply_settings(station, make_settings(tmp_path, allowed_source_networks=["10.0.0.0/8"]))
        assert station.outgoing().refusal("203.0.113.7") is not None
        assert station.outgoing().refusal("127.0.0.1") is not None
        assert station.sources.outgoing() is station.outgoing()
    finally:
        station.catalog.close()
    explicit = build_station(make_settings(tmp_path, allowed_source_networks=["192.168.0.0/16"]))
    try:
        assert explicit.outgoing().refusal("203.0.113.7") is not None
    finally:
        explicit.catalog.close()
