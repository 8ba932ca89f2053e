"""Discovery is no port scanner by timing (issue #21, item 8): a closed port refuses at once,
a silent one keeps the station waiting its timeout; the station answers both (and a port
where something else answers) with the same words, none before the uniform delay. Against a
real station process, on loopback."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from app.services.onvif_client import HTTP_TIMEOUT_S
from tests.support.ports import free_loopback_port

PROFILES = "/api/v1/discovery/profiles"


class NotACamera(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's name
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_closed_silent_and_other_ports_look_alike(open_station):
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (in the kernel), never answers
    web = ThreadingHTTPServer(("127.0.0.1", 0), NotACamera)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    ports = {"closed": free_loopback_port(), "silent": silent.getsockname()[1],
             "other": web.server_address[1]}

    def ask(port: int) -> tuple[int, str, float]:
        started = time.monotonic()
        status, body, _ = open_station.call(
            "POST", PROFILES, {"address": f"127.0.0.1:{port}", "user": "u", "password": "p"},
            timeout=60)
        return status, body["detail"][0]["msg"].replace(str(port), "PORT"), time.monotonic() - started

    try:
        with ThreadPoolExecutor(len(ports)) as pool:
            answers = dict(zip(ports, pool.map(ask, ports.values())))
    finally:
        web.shutdown()
        silent.close()
    # the same words for all three
    assert len({(status, msg) for status, msg, _ in answers.values()}) == 1, answers
    assert "no ONVIF camera answered" in answers["closed"][1]
    # and none of them before the uniform delay (the silent one's time-out): a closed port
    # and a quick "not found" no longer answer in milliseconds
    for name, (_, _, seconds) in answers.items():
        assert seconds >= HTTP_TIMEOUT_S, (name, seconds)


def test_a_refused_address_is_told_at_once_by_its_address_alone(open_station):
    """What the policy refuses is refused from the address itself, before any connection:
    the same answer whatever listens there (here: nothing)."""
    status, body, _ = open_station.call(
        "POST", PROFILES, {"address": "169.254.169.254:80", "user": "u", "password": "p"})
    assert status == 422 and body["detail"][0]["loc"][-1] == "address"
    assert "never opens" in body["detail"][0]["msg"]
