"""Where the station connects (issue #21, item 1): one outgoing-address policy for sources,
previews, snapshots, syncs, callbacks and discovery, and network inputs read only as audio and
video. Attacks on real station processes, with real servers on loopback that count who
reached them; callbacks and snapshots (not reachable through the API) on the real services."""

from __future__ import annotations

import socket
import threading
from types import SimpleNamespace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import av
import pytest

from app.dialects.huawei.callbacks import CallbackSender
from app.errors import InvalidInput
from app.services.discovery import Discovery
from app.services.onvif_client import CameraError
from app.site.sync_targets import StationTarget, TargetRefused, TargetUnreachable, parse_location
from recorder.inputs import UNREACHABLE
from recorder.outgoing import OutgoingPolicy
from tests.conftest import wait_until
from tests.support.station_process import StationProcess

SOURCES = "/api/v1/source"
METADATA = [
    "169.254.169.254", "[fd00:ec2::254]", "[fe80::1]", "100.100.100.200", "168.63.129.16",
    "0.0.0.0", "[::ffff:169.254.169.254]", "169.254.170.2"]
SECRET = b"SECRET-TOKEN=hunter2 root:x:0:0:root:/root:/bin/bash\n"


# --- servers that count who reached them ----------------------------------------------------
class Counter:
    """A TCP listener that accepts, counts and (optionally) greets every connection."""

    def __init__(self, host: str = "127.0.0.1", greeting: bytes = b""):
        self.sock = socket.create_server((host, 0))
        self.port = self.sock.getsockname()[1]
        self.hits = 0
        self.greeting = greeting
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.hits += 1
            try:
                if self.greeting:
                    conn.sendall(self.greeting)
            except OSError:
                pass
            conn.close()

    def close(self) -> None:
        self.sock.close()


def http_server(handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1") -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


class TextPages(BaseHTTPRequestHandler):
    """An intranet page or service: text, whatever the path (.nfo, plain, HTML)."""

    def do_GET(self):  # noqa: N802 - http.server's name
        html = self.path.endswith(".html")
        body = (b"<html><body><pre>" + SECRET * 20 + b"</pre></body></html>") if html else SECRET * 20
        self.send_response(200)
        self.send_header("Content-Type", "text/html" if html else "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def redirector(target: str) -> type[BaseHTTPRequestHandler]:
    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(302)
            self.send_header("Location", target + self.path)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_POST = do_PUT = do_GET  # noqa: N815

        def log_message(self, *args):
            pass
    return Redirect


class RtspRedirect:
    """An RTSP server that answers every request with 302 to `target`."""

    def __init__(self, target: str):
        self.target = target
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._talk, args=(conn,), daemon=True).start()

    def _talk(self, conn: socket.socket) -> None:
        with conn:
            buf = b""
            while True:
                try:
                    data = conn.recv(4096)
                except OSError:
                    return
                if not data:
                    return
                buf += data
                while b"\r\n\r\n" in buf:
                    head, buf = buf.split(b"\r\n\r\n", 1)
                    cseq = next((line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                                 if line.lower().startswith(b"cseq:")), b"1")
                    conn.sendall(b"RTSP/1.0 302 Moved Temporarily\r\nCSeq: " + cseq
                                 + f"\r\nLocation: {self.target}\r\n\r\n".encode())

    def close(self) -> None:
        self.sock.close()


# --- helpers -------------------------------------------------------------------------------------
def refused_naming(station: StationProcess, method: str, path: str, body: dict, field: str) -> str:
    status, answer, _ = station.call(method, path, body)
    assert status == 422, (body, status, answer)
    [detail] = answer["detail"]
    assert detail["loc"][-1] == field, (body, answer)
    return detail["msg"]


def create(station: StationProcess, body: dict) -> int:
    status, answer, _ = station.call("POST", SOURCES, body)
    assert status == 200, (body, answer)
    return answer["id"]


def error_of(station: StationProcess, source_id: int) -> tuple[str, str]:
    """The source's status and error once it has one (it never comes online). The status is
    `offline` between attempts, `connecting` (the last error kept) while it tries again."""
    found: list = []

    def failed() -> bool:
        status, body, _ = station.call("GET", f"{SOURCES}/{source_id}")
        assert body["status"] != "online", f"source {source_id} came online"
        found[:] = [body["status"], body["error"]]
        return bool(body["error"])
    wait_until(failed, 40, message=f"source {source_id} failed")
    return found[0], found[1]


def no_picture(station: StationProcess, source_id: int) -> None:
    status, body, _ = station.call("GET", f"{SOURCES}/{source_id}/picture")
    assert status != 200 and not (isinstance(body, bytes) and body.startswith(b"\xff\xd8")), status


@pytest.fixture
def loopback_excluded(tmp_path):
    """A station whose operator allows 10.0.0.0/8 only: loopback is not for it to open."""
    with StationProcess(tmp_path, name="lan-only",
                        env={"RS_ALLOWED_SOURCE_NETWORKS": '["10.0.0.0/8"]'}) as station:
        yield station


# --- tests ---------------------------------------------------------------------------------------
def test_metadata_and_link_local_addresses_are_refused_when_saved(open_station):
    """Every field that names an address the station opens: a 422 naming it, nothing stored,
    nothing fetched (no server answers there: the refusal depends on the address alone)."""
    for host in METADATA:
        for uri in (f"http://{host}/latest/meta-data/", f"rtsp://{host}:554/x",
                    f"tcp://{host}:80/x.nfo", f"rtmp://{host}/live/x"):
            msg = refused_naming(open_station, "POST", SOURCES, {"uri_rtsp": uri}, "uri_rtsp")
            assert "never opens" in msg, msg
        url = f"http://{host}/snap.jpg"
        refused_naming(open_station, "POST", SOURCES,
                       {"uri_rtsp": "testsrc://", "uri_preview": f"rtsp://{host}/sub"}, "uri_preview")
        refused_naming(open_station, "POST", SOURCES,
                       {"uri_rtsp": "testsrc://", "uri_snapshot": url}, "uri_snapshot")
        refused_naming(open_station, "POST", SOURCES,
                       {"model": "PictureSource", "uri_http_picture": {"uri": url}}, "uri_http_picture")
        refused_naming(open_station, "POST", "/api/v1/sync",
                       {"tag_name": "t", "location": f"http://:tok@{host}:4035/"}, "location")
        refused_naming(open_station, "POST", "/api/v1/discovery/profiles",
                       {"address": host, "user": "u", "password": "p"}, "address")
    # a stored source edited to point there: the same refusal, the old address kept
    source_id = create(open_station, {"name": "cam", "uri_rtsp": "testsrc://"})
    refused_naming(open_station, "PUT", f"{SOURCES}/{source_id}",
                   {"uri_rtsp": "http://169.254.169.254/latest/"}, "uri_rtsp")
    status, sources, _ = open_station.call("GET", SOURCES)
    assert [s["uri_rtsp"] for s in sources] == ["testsrc://"]
    assert open_station.call("GET", "/api/v1/sync")[1] == []


def test_a_callback_url_at_a_metadata_address_stops_the_station_from_starting(tmp_path):
    """The callback URL is a setting: refused when the settings are read, naming it."""
    with pytest.raises(RuntimeError, match="huawei_callback_url"):
        StationProcess(tmp_path, name="cb", start_timeout=30,
                       env={"RS_HUAWEI_CALLBACK_URL": "http://169.254.169.254/cb"})


def test_a_text_page_is_no_picture(open_station):
    """FFmpeg picks a demuxer by the URL's suffix: `.nfo` and friends select `tty`, which
    draws any text as video. Network inputs are read only by audio/video demuxers and
    codecs: the page gives no picture, only the usual reason."""
    web = http_server(TextPages)
    greeter = Counter(greeting=b"220 mail.internal ESMTP " + SECRET)
    base = f"http://127.0.0.1:{web.server_address[1]}"
    try:
        # the attack is real: FFmpeg left to itself makes a video of the page
        with av.open(f"{base}/x.nfo", options={"protocol_whitelist": "http,tcp"}) as container:
            assert container.format.name == "tty" and container.streams.video
        ids = []
        for path in ("/x.nfo", "/notes.txt", "/art.ans", "/file.diz", "/page?f=x.nfo",
                     "/plain", "/index.html"):
            ids.append(create(open_station, {"name": f"web{path}", "uri_rtsp": base + path}))
            ids.append(create(open_station, {"name": f"tcp{path}",
                                             "uri_rtsp": f"tcp://127.0.0.1:{greeter.port}{path}"}))
            create(open_station, {"name": f"sub{path}", "uri_rtsp": "testsrc://?size=64x64",
                                  "uri_preview": base + path})
        for source_id in ids:
            status, error = error_of(open_station, source_id)
            assert status in ("offline", "connecting") and error == UNREACHABLE, (status, error)
            no_picture(open_station, source_id)
        assert greeter.hits > 0  # the service was reached, its greeting never shown
    finally:
        web.shutdown()
        greeter.close()


def test_a_name_that_resolves_where_the_operator_does_not_allow_is_never_connected(
        loopback_excluded):
    """allowed_source_networks = 10.0.0.0/8: a loopback camera is refused when saved by
    address, and by name (`localhost`) when the station would connect, for every kind of
    input, before any connection is made."""
    camera = Counter()
    try:
        station = loopback_excluded
        msg = refused_naming(station, "POST", SOURCES,
                             {"uri_rtsp": f"rtsp://127.0.0.1:{camera.port}/x"}, "uri_rtsp")
        assert "allowed_source_networks" in msg, msg
        refused_naming(station, "POST", SOURCES, {"uri_rtsp": f"rtsp://[::1]:{camera.port}/x"},
                       "uri_rtsp")
        named = f"localhost:{camera.port}"
        ids = [create(station, {"name": n, "uri_rtsp": uri}) for n, uri in (
            ("rtsp", f"rtsp://{named}/x"), ("udp", f"rtsp://{named}/x#udp"),
            ("http", f"http://{named}/x.ts"), ("tcp", f"tcp://{named}"),
            ("rtmp", f"rtmp://{named}/live/x"))]
        ids.append(create(station, {"name": "pic", "model": "PictureSource",
                                    "uri_http_picture": {"uri": f"http://{named}/snap.jpg"}}))
        for source_id in ids:
            status, error = error_of(station, source_id)
            assert status == "error" and error.startswith("refused:"), error
            assert "allowed_source_networks" in error and "localhost" in error, error
        # a preview stream by name, beside a main stream that is fine
        sub = create(station, {"name": "sub", "uri_rtsp": "testsrc://?size=64x64",
                               "uri_preview": f"rtsp://{named}/sub"})
        refused_naming(station, "POST", "/api/v1/discovery/profiles",
                       {"address": named, "user": "u", "password": "p"}, "address")
        wait_until(lambda: f"source {sub}: preview stream: refused" in station.log_text(), 30,
                   message="the preview refused")
        assert camera.hits == 0
    finally:
        camera.close()


def test_redirects_are_never_followed(open_station):
    """An allowed camera that redirects (HTTP 302, RTSP 302) elsewhere: the station does not
    go there, whether the target is a metadata address or another allowed host."""
    target = Counter("127.0.0.2")
    elsewhere = f"127.0.0.2:{target.port}"
    web = http_server(redirector(f"http://{elsewhere}"))
    metadata = http_server(redirector("http://169.254.169.254"))
    rtsp = RtspRedirect(f"rtsp://{elsewhere}/x")
    try:
        ids = [create(open_station, {"name": f"r{n}", "uri_rtsp": uri}) for n, uri in enumerate((
            f"http://127.0.0.1:{web.server_address[1]}/x.ts",
            f"http://127.0.0.1:{metadata.server_address[1]}/latest/meta-data/",
            f"rtsp://127.0.0.1:{rtsp.port}/x"))]
        ids.append(create(open_station, {"name": "pic", "model": "PictureSource", "uri_http_picture": {
            "uri": f"http://127.0.0.1:{web.server_address[1]}/snap.jpg"}}))
        for source_id in ids:
            assert error_of(open_station, source_id)[0] in ("offline", "connecting", "error")
            no_picture(open_station, source_id)
        assert target.hits == 0
    finally:
        for server in (web, metadata):
            server.shutdown()
        rtsp.close()
        target.close()


def test_snapshots_syncs_and_callbacks_go_through_the_policy():
    """The tile's snapshot (Discovery.snapshot), a sync to another station (StationTarget)
    and HTTP callbacks (CallbackSender), on the real services: a name resolving outside the
    operator's networks is not connected to, a redirect is not followed."""
    lan_only = OutgoingPolicy(["10.0.0.0/8"])
    target = Counter("127.0.0.2")
    web = http_server(redirector(f"http://127.0.0.2:{target.port}"))
    try:
        with pytest.raises(InvalidInput, match="allowed_source_networks"):
            Discovery(outgoing=lambda: lan_only).snapshot(
                f"http://localhost:{target.port}/snap.jpg", "u", "p")
        discovery = Discovery()
        discovery.failure_delay_s = 0  # the uniform delay is test_discovery_timing's
        with pytest.raises(CameraError):
            discovery.snapshot(f"http://127.0.0.1:{web.server_address[1]}/snap.jpg", "u", "p")
        for policy, url in ((lan_only, f"http://:t@localhost:{target.port}/"),
                            (OutgoingPolicy(), f"http://:t@127.0.0.1:{web.server_address[1]}/")):
            where = parse_location(url, policy=policy)
            station = StationTarget(where, station_name="a", tag_name="t", policy=policy)
            with pytest.raises((TargetRefused, TargetUnreachable)) as refused:
                station.state(SimpleNamespace(record_id="r1"))
            assert "token" not in str(refused.value)
        with pytest.raises(TargetRefused, match="allowed_source_networks"):
            StationTarget(parse_location(f"http://localhost:{target.port}/", policy=lan_only),
                          station_name="a", tag_name="t", policy=lan_only).state(
                SimpleNamespace(record_id="r1"))
        for policy, url in ((lan_only, f"http://localhost:{target.port}/cb"),
                            (OutgoingPolicy(), f"http://127.0.0.1:{web.server_address[1]}/cb")):
            sender = CallbackSender(policy=lambda p=policy: p, max_attempts=2, first_delay_s=0)
            sender.post(url, lambda: {"event": "x"})
            wait_until(lambda s=sender: s.pending() == 0, 20, message="the callback given up")
            sender.close()
        assert target.hits == 0
    finally:
        web.shutdown()
        target.close()
