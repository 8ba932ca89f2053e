"""Sources open only what a camera source should open (issue #11, item 4) and their number is
capped (item 7): attacks on a real station process through the native and Huawei RTC
dialects, with real files, real sockets and real HTTP servers."""

from __future__ import annotations

import functools
import json
import os
import socket
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import av
import pytest

from recorder.inputs import UNREACHABLE
from tests.security.conftest import TOKEN
from tests.support.huawei import signed
from tests.support.station_process import StationProcess
from tests.support.media import small_clip
from tests.support.ports import free_loopback_port

SOURCES = "/api/v1/source"


# --- helpers -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def refusing_station(tmp_path_factory):
    """The defaults' station (as `open_station`), shared by the tests whose requests are
    refused: each checks that its refusals stored nothing against the sources it found, so
    one station start serves them all."""
    with StationProcess(tmp_path_factory.mktemp("refusing"), name="open") as station:
        yield station


def source_ids(station: StationProcess) -> set[int]:
    return {s["id"] for s in station.call("GET", SOURCES)[1]}


def create(station: StationProcess, body: dict, token: str | None = None):
    return station.call("POST", SOURCES, body, token=token)


def refused_naming(station: StationProcess, body: dict, field: str, token: str | None = None) -> str:
    status, answer, _ = create(station, body, token)
    assert status == 422, (body, status, answer)
    [detail] = answer["detail"]
    assert detail["loc"][-1] == field, (body, answer)
    assert field in detail["msg"].split(":")[0] or field.startswith("max_"), answer
    return detail["msg"]


def source_state(station: StationProcess, source_id: int) -> tuple[str, str | None]:
    status, body, _ = station.call("GET", f"{SOURCES}/{source_id}/")
    assert status == 200, body
    return body["status"], body["error"]


def wait_for_error(station: StationProcess, source_id: int, timeout: float = 30.0) -> tuple[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, error = source_state(station, source_id)
        assert status != "online", f"source {source_id} came online"
        if error:
            return status, error
        time.sleep(0.2)
    raise AssertionError(f"source {source_id} reported no error in {timeout} s")


def never_online(station: StationProcess, source_id: int, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert source_state(station, source_id)[0] != "online"
        time.sleep(0.3)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def serve(folder: Path) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def media_env(*folders: Path) -> dict[str, str]:
    return {"RS_MEDIA_DIRS": json.dumps([str(f) for f in folders])}


# --- file:// and FFmpeg protocols ---------------------------------------------------------------
def test_file_sources_are_refused_without_media_dirs(refusing_station):
    station = refusing_station
    before = source_ids(station)
    message = refused_naming(station, {"name": "passwd", "uri_rtsp": "file:///etc/passwd"},
                             "uri_rtsp")
    assert "media_dirs" in message
    # the answer is the same for a file that does not exist
    assert refused_naming(station, {"name": "nothing", "uri_rtsp": "file:///etc/no-such-file"},
                          "uri_rtsp") == message
    assert source_ids(station) == before


NESTED = [
    "file:concat:/etc/passwd|/etc/hostname",
    "file:/etc/passwd",
    "concat:/etc/passwd|/etc/hostname",
    "subfile:,,start,0,end,100,,:/etc/passwd",
    "data:text/plain;base64,aGVsbG8=",
    "pipe:0",
    "fd:3",
    "crypto:file:/etc/passwd",
    "async:file:/etc/passwd",
    "cache:file:/etc/passwd",
    "tee:file:/etc/passwd",
    "hls+http://127.0.0.1/a.m3u8",
    "hls+file:/etc/passwd",
    "gopher://127.0.0.1/x",
    "ftp://127.0.0.1/x.mp4",
    "http://127.0.0.1/concat:/etc/passwd",
    "http://127.0.0.1/stream?src=file:///etc/passwd",
    "http://127.0.0.1/stream?src=%66ile%3a%2f%2f%2fetc%2fpasswd",
    "http://127.0.0.1/stream?src=%2566ile%253a/etc/passwd",
    "http://127.0.0.1/a#subfile:,,start,0,end,1,,:/etc/passwd",
    "http://concat:/etc/passwd",
    "rtsp://127.0.0.1/live?x=data:,AAAA",
    "rtmp://127.0.0.1/live/async:http://127.0.0.1/",
    "udp://127.0.0.1:1234?pipe:1",
    "device:///etc/passwd",
    "screen://evil.example:0",
]


def test_ffmpeg_protocols_are_refused_anywhere_in_a_uri(refusing_station):
    open_station = refusing_station
    before = source_ids(open_station)
    for uri in NESTED:
        refused_naming(open_station, {"name": "nested", "uri_rtsp": uri}, "uri_rtsp")
        picture = {"model": "PictureSource", "name": "nested-pic",
                   "uri_http_picture": {"uri": uri}}
        msg = refused_naming(open_station, picture, "uri_http_picture")
        assert msg.startswith("uri_http_picture.uri:"), msg
    # the same for a change of an existing source
    status, good, _ = create(open_station, {"name": "good", "uri_rtsp": "rtsp://127.0.0.1:1/x",
                                            "enabled": False})
    assert status == 200, good
    status, body, _ = open_station.call("PUT", f"{SOURCES}/{good['id']}/",
                                        {"uri_rtsp": "http://127.0.0.1/?u=file:/etc/passwd"})
    assert status == 422 and body["detail"][0]["loc"][-1] == "uri_rtsp", body
    [stored] = [s for s in open_station.call("GET", SOURCES)[1] if s["id"] not in before]
    assert stored["id"] == good["id"] and stored["uri_rtsp"] == "rtsp://127.0.0.1:1/x"


def test_a_preview_stream_and_a_snapshot_url_obey_the_same_policy(refusing_station):
    """The second stream a tile reads and the camera's snapshot URL are opened by the station
    too: every nested protocol is refused there as in `uri_rtsp`, and nothing is stored."""
    open_station = refusing_station
    before = source_ids(open_station)
    for uri in NESTED:
        refused_naming(open_station, {"name": "sub", "uri_rtsp": "rtsp://127.0.0.1:1/x",
                                      "uri_preview": uri}, "uri_preview")
        refused_naming(open_station, {"name": "snap", "uri_rtsp": "rtsp://127.0.0.1:1/x",
                                      "uri_snapshot": uri}, "uri_snapshot")
    assert source_ids(open_station) == before


def test_a_file_under_media_dirs_is_recorded_and_a_symlink_out_is_refused(tmp_path):
    media, outside = tmp_path / "media", tmp_path / "outside"
    video = small_clip(media / "clip.mp4", frames=30)
    secret = small_clip(outside / "secret.mp4", frames=30)
    (media / "escape.mp4").symlink_to(secret)
    (media / "dangling.mp4").symlink_to(outside / "missing.mp4")
    (media / "sub").mkdir()
    with StationProcess(tmp_path, name="media", env=media_env(media)) as station:
        escape = refused_naming(station, {"name": "esc", "uri_rtsp": f"file://{media}/escape.mp4"},
                                "uri_rtsp")
        # a symlink whose target is missing, and `..` out of the folder: the same refusal
        assert refused_naming(station, {"name": "dng", "uri_rtsp": f"file://{media}/dangling.mp4"},
                              "uri_rtsp") == escape
        assert refused_naming(station, {"name": "dots",
                                        "uri_rtsp": f"file://{media}/sub/../../outside/secret.mp4"},
                              "uri_rtsp") == escape
        assert refused_naming(station, {"name": "host", "uri_rtsp": f"file://evil{video}"},
                              "uri_rtsp")

        status, source, _ = create(station, {"name": "clip", "uri_rtsp": f"file://{video}"})
        assert status == 200, source
        status, group, _ = station.call("POST", "/api/v1/group", {"name": "files"})
        assert status == 200, group
        station.call("POST", f"/api/v1/group/{group[0]['id']}/source/{source['id']}/")
        deadline = time.monotonic() + 20
        while source_state(station, source["id"])[0] != "online":
            assert time.monotonic() < deadline, source_state(station, source["id"])
            time.sleep(0.2)
        status, records, _ = station.call("POST", "/api/v1/record",
                                          {"model": "Source", "tag_name": "t1", "group_name": "files"})
        assert status == 200, records
        time.sleep(2.5)
        status, records, _ = station.call("PUT", "/api/v1/record",
                                          {"model": "Source", "tag_name": "t1"})
        assert status == 200 and records[0]["status"] == "finished", records
        with av.open(records[0]["location"]) as recorded:
            frames = sum(1 for _ in recorded.decode(video=0))
        assert frames >= 15


def test_missing_unreadable_and_forbidden_files_give_one_status_text(tmp_path):
    """No oracle for which files exist: under media_dirs a missing file, a file that is no
    video and one without read permission fail alike; after media_dirs changes, a stored
    source is refused before anything is opened, the same whether its file exists or not."""
    media = tmp_path / "media"
    media.mkdir()
    video = small_clip(media / "clip.mp4", frames=30)
    (media / "notes.mp4").write_text("not a video")
    locked = media / "locked.mp4"
    locked.write_text("no permission")
    locked.chmod(0)
    os.mkfifo(media / "fifo.mp4")
    (media / "folder.mp4").mkdir()
    uris = {"missing": f"file://{media}/missing.mp4", "notes": f"file://{media}/notes.mp4",
            "locked": f"file://{locked}", "dir": f"file://{media}/folder.mp4", "fifo": f"file://{media}/fifo.mp4"}
    with StationProcess(tmp_path, name="files", env=media_env(media)) as station:
        ids = {}
        for name, uri in uris.items():
            status, body, _ = create(station, {"name": name, "uri_rtsp": uri})
            assert status == 200, body  # existence is not checked (nor told) when saving
            ids[name] = body["id"]
        status, body, _ = create(station, {"name": "clip", "uri_rtsp": f"file://{video}"})
        ids["clip"] = body["id"]
        errors = {name: wait_for_error(station, ids[name]) for name in uris}
        assert set(errors.values()) == {("offline", UNREACHABLE)}, errors
    # the operator empties media_dirs: the stored sources are refused, not opened, and the
    # station runs on
    with StationProcess(tmp_path, name="files") as station:
        existing = wait_for_error(station, ids["clip"])
        missing = wait_for_error(station, ids["missing"])
        assert existing == missing and existing[0] == "error", (existing, missing)
        assert "refused" in existing[1] and "media_dirs" in existing[1]
        assert station.call("GET", "/api/v1/group")[0] == 200


def test_unreachable_addresses_do_not_tell_whether_a_port_is_open(open_station, tmp_path):
    """Connection refused, a silent listener (time-out) and a web page that is no stream look
    the same from the API."""
    (tmp_path / "www").mkdir()
    (tmp_path / "www" / "index.html").write_text("<html>a web page, not a stream</html>")
    web = serve(tmp_path / "www")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)  # accepts (in the kernel), never answers
    try:
        ports = {"closed": free_loopback_port(), "web": web.server_address[1],
                 "silent": silent.getsockname()[1]}
        ids = {}
        for name, port in ports.items():
            for scheme in ("rtsp", "http"):
                status, body, _ = create(open_station, {"name": f"{scheme}-{name}",
                                                        "uri_rtsp": f"{scheme}://127.0.0.1:{port}/x"})
                assert status == 200, body
                ids[f"{scheme}-{name}"] = body["id"]
        errors = {name: wait_for_error(open_station, sid, 40) for name, sid in ids.items()}
        assert set(errors.values()) == {("offline", UNREACHABLE)}, errors
    finally:
        web.shutdown()
        silent.close()


def test_playlists_cannot_pull_local_files(tmp_path):
    """An HLS playlist from a web server naming file: segments, and a playlist inside a media
    folder naming a video outside it: neither is read."""
    media, outside, www = tmp_path / "media", tmp_path / "outside", tmp_path / "www"
    www.mkdir()
    secret = small_clip(outside / "secret.ts", frames=30)
    head = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:3\n"
    (www / "hostname.m3u8").write_text(head + "#EXTINF:3.0,\nfile:///etc/hostname\n#EXT-X-ENDLIST\n")
    (www / "secret.m3u8").write_text(head + f"#EXTINF:3.0,\nfile://{secret}\n#EXT-X-ENDLIST\n")
    media.mkdir()
    local = media / "local.m3u8"
    local.write_text(head + f"#EXTINF:3.0,\n{secret}\n#EXT-X-ENDLIST\n")
    disguised = media / "playlist.mp4"
    disguised.write_text(local.read_text())
    # the attack is real: FFmpeg left to itself reads the video outside the media folder
    with av.open(str(local)) as direct:
        assert sum(1 for _ in direct.demux(direct.streams.video[0])) > 0
    web = serve(www)
    base = f"http://127.0.0.1:{web.server_address[1]}"
    try:
        with StationProcess(tmp_path, name="hls", env=media_env(media)) as station:
            uris = {"web-hostname": f"{base}/hostname.m3u8", "web-secret": f"{base}/secret.m3u8",
                    "local": f"file://{local}", "disguised": f"file://{disguised}"}
            ids = {}
            for name, uri in uris.items():
                status, body, _ = create(station, {"name": name, "uri_rtsp": uri})
                assert status == 200, body
                ids[name] = body["id"]
            for name, sid in ids.items():
                assert wait_for_error(station, sid) == ("offline", UNREACHABLE), name
            never_online(station, ids["local"], 3.0)
    finally:
        web.shutdown()


# --- ffmpeg_cmd ---------------------------------------------------------------------------------
FFMPEG_CMDS = [
    "-vf movie=/etc/passwd",
    "-c:v libx264 -vf movie=/etc/passwd",
    "-c:v libx264 -vf scale=320:-2,movie=/etc/passwd",
    "-c:v libx264 -filter:v amovie=/etc/passwd",
    "-c:v libx264 -vf subtitles=/etc/passwd",
    "-filter_complex movie=/etc/passwd",
    "-i /etc/passwd",
    "ffmpeg -i concat:/etc/passwd|/etc/hostname {output}",
    "-f concat",
    "-attach /etc/passwd",
    "-dump_attachment:t /tmp/out",
    "-c:v libx264 -passlogfile /tmp/x",
    "-c:v libx264 -progress /tmp/x",
    "-c:v libx264 file:/tmp/out.mp4",
    "-c:v libx264 {output} /tmp/second.mp4",
]


def test_ffmpeg_cmd_cannot_name_a_file_or_protocol(refusing_station):
    open_station = refusing_station
    before = source_ids(open_station)
    for template in FFMPEG_CMDS:
        refused_naming(open_station, {"name": "cmd", "uri_rtsp": "rtsp://127.0.0.1:1/x",
                                      "ffmpeg_cmd": template}, "ffmpeg_cmd")
    assert source_ids(open_station) == before
    status, body, _ = create(open_station, {"name": "cmd", "uri_rtsp": "rtsp://127.0.0.1:1/x",
                                            "ffmpeg_cmd": "-c:v libx264 -vf scale=320:-2 -an"})
    assert status == 200, body


# --- RTMP forwards (Huawei RTC publish_param) ---------------------------------------------------
def test_rtc_forwards_go_to_rtmp_only(token_station):
    station = token_station
    status, source, _ = create(station, {"name": "user1",
                                         "uri_rtsp": "testsrc://testsrc2?size=160x120&rate=5"}, TOKEN)
    assert status == 200, source
    status, group, _ = station.call("POST", "/api/v1/group", {"name": "room1"}, token=TOKEN)
    station.call("POST", f"/api/v1/group/{group[0]['id']}/source/{source['id']}/", token=TOKEN)
    jobs = f"{station.url}/v2/apps/app-1/individual-stream-jobs"
    bad = ["http://127.0.0.1/live", "file:///tmp/forward.flv", "rtmp://127.0.0.1/live/concat:/etc/passwd",
           "rtmp://concat:/etc/passwd", "rtmps://127.0.0.1/app?x=file:/etc/passwd",
           "rtmp://127.0.0.1/live/%66ile:%2fetc%2fpasswd", "tee:rtmp://127.0.0.1/a|file:/tmp/x",
           "rtmp://127.0.0.1/live key"]
    for url in bad:
        resp = signed("POST", jobs, {"room_id": "room1", "user_id": "user1",
                                     "publish_param": {"rtmp_urls": [url]}},
                      ak="AKTEST0123456789", sk="sk-secret-0123456789")
        assert resp.status_code == 400, (url, resp.text)
        assert resp.json()["error_code"] == "RTC.00001003", (url, resp.text)
    # the control: a well-formed RTMP URL (nobody listening) is accepted
    resp = signed("POST", jobs, {"room_id": "room1", "user_id": "user1",
                                 "publish_param": {"rtmp_urls": [f"rtmp://127.0.0.1:{free_loopback_port()}/live/k"]}},
                  ak="AKTEST0123456789", sk="sk-secret-0123456789")
    assert resp.status_code in (200, 201), resp.text
    job = resp.json()["job_id"]
    resp = signed("DELETE", f"{jobs}/{job}", ak="AKTEST0123456789", sk="sk-secret-0123456789")
    assert resp.status_code in (200, 204), resp.text


# --- max_sources ---------------------------------------------------------------------------------
def test_the_257th_source_is_refused(open_station):
    for index in range(256):
        status, body, _ = create(open_station, {"name": f"s{index}", "enabled": False,
                                                "uri_rtsp": "rtsp://127.0.0.1:1/x"})
        assert status == 200, (index, body)
    message = refused_naming(open_station, {"name": "one-too-many", "enabled": False,
                                            "uri_rtsp": "rtsp://127.0.0.1:1/x"}, "max_sources")
    assert "256" in message and "max_sources" in message
    assert len(open_station.call("GET", SOURCES)[1]) == 256
    # deleting one makes room again
    first = open_station.call("GET", SOURCES)[1][0]["id"]
    assert open_station.call("DELETE", f"{SOURCES}/{first}/")[0] == 200
    status, body, _ = create(open_station, {"name": "again", "enabled": False,
                                            "uri_rtsp": "rtsp://127.0.0.1:1/x"})
    assert status == 200, body
