"""Masking credentials where they are, never by searching free text (#21 item 16), against a
real station process: cameras whose passwords are one letter ("p", "a", "e"), a common word
("in", "the", "input", "open"), the user name, the scheme or a piece of the host ("127",
"0"). Before, the station replaced the password's text wherever it appeared, so a source's
error read "cannot o******en the in******ut": whoever read it learnt the password. Now the
words stay whole, the mask stands only in the URI's user-info, and the password is nowhere in
clear."""

from __future__ import annotations

import re
import socket
import threading
import time

import pytest

from tests.support.station_process import StationProcess

UNREACHABLE = "cannot open the input (unreachable, refused or not a video stream)"
AUTH_FAILED = "authentication failed"
PASSWORDS = ["p", "a", "e", "o", "in", "the", "input", "open", "admin", "rtsp", "127", "0", "t"]
MASKED = re.compile(r"(.?)\*{6}(.?)")


class RefusingCamera:
    """An RTSP server that answers every request 401 (Basic and Digest offered): the station
    reports "authentication failed" for it."""

    def __init__(self):
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.asked = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            conn.settimeout(10)
            try:
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    data += chunk
                    while b"\r\n\r\n" in data:
                        head, data = data.split(b"\r\n\r\n", 1)
                        cseq = re.search(rb"(?im)^cseq:\s*(\d+)", head)
                        self.asked += 1
                        conn.sendall(b"RTSP/1.0 401 Unauthorized\r\nCSeq: " +
                                     (cseq.group(1) if cseq else b"1") +
                                     b'\r\nWWW-Authenticate: Digest realm="cam", nonce="n0nce"'
                                     b'\r\nWWW-Authenticate: Basic realm="cam"\r\n\r\n')
            except OSError:
                return

    def close(self) -> None:
        self.server.close()


def closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]


@pytest.fixture
def station(tmp_path):
    with StationProcess(tmp_path, name="masking") as st:
        yield st


def wait_for_errors(st: StationProcess, ids: list[int], timeout: float = 60.0) -> dict[int, dict]:
    """Each source once its reader has reported a failure (polled, not slept for)."""
    deadline = time.monotonic() + timeout
    while True:
        status, listed, _ = st.call("GET", "/api/v1/source")
        assert status == 200, listed
        by_id = {s["id"]: s for s in listed if s["id"] in ids}
        if all(by_id[i].get("error") for i in ids) or time.monotonic() > deadline:
            return by_id
        time.sleep(0.2)


def only_in_user_info(text: str) -> None:
    """Every mask in `text` stands between `user:` and `@`: no word was cut by one."""
    for before, after in MASKED.findall(text):
        assert (before, after) == (":", "@"), text


def test_one_letter_and_common_word_passwords_leave_the_words_whole(station):
    st, camera = station, RefusingCamera()
    try:
        refused_port = closed_port()
        made: dict[int, tuple[str, str, str]] = {}
        for i, password in enumerate(PASSWORDS):
            for kind, port in (("unreachable", refused_port), ("refused", camera.port)):
                uri = f"rtsp://admin:{password}@127.0.0.1:{port}/stream{i}"
                status, body, _ = st.call("POST", "/api/v1/source",
                                          {"name": f"{kind}-{i}", "uri_rtsp": uri})
                assert status == 200, body
                made[body["id"]] = (kind, password, uri)
                assert body["uri_rtsp"] == f"rtsp://admin:******@127.0.0.1:{port}/stream{i}"
        sources = wait_for_errors(st, list(made))
        for sid, (kind, password, uri) in made.items():
            source = sources[sid]
            expected = UNREACHABLE if kind == "unreachable" else AUTH_FAILED
            assert source["error"] == expected, (password, source["error"])
            # the host, the port and the user name are shown whole whatever the password
            port = uri.rsplit(":", 1)[1].split("/")[0]
            assert source["uri_rtsp"] == f"rtsp://admin:******@127.0.0.1:{port}/" + \
                uri.rsplit("/", 1)[1], source["uri_rtsp"]
            status, one, _ = st.call("GET", f"/api/v1/source/{sid}")
            assert status == 200 and one["error"] == expected
        assert camera.asked > 0  # the station did ask the refusing camera
        log = st.log_text()
        for password in PASSWORDS:
            assert f"admin:{password}@" not in log
        for line in log.splitlines():
            if "******" in line:
                only_in_user_info(line)
    finally:
        camera.close()


def test_the_host_named_like_the_password_is_not_masked(station):
    """A password that is a piece of the URI itself ("127", the scheme, the user): only the
    user-info's password is masked, the rest of the address stays readable."""
    st = station
    port = closed_port()
    for password in ("127", "rtsp", "admin", "stream", "0.0"):
        uri = f"rtsp://admin:{password}@127.0.0.1:{port}/stream"
        status, body, _ = st.call("POST", "/api/v1/source", {"name": f"n-{password}", "uri_rtsp": uri})
        assert status == 200, body
        assert body["uri_rtsp"] == f"rtsp://admin:******@127.0.0.1:{port}/stream", body
    _, listed, _ = st.call("GET", "/api/v1/source")
    for source in listed:
        only_in_user_info(source["uri_rtsp"])
