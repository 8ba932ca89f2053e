"""The outgoing-address policy (recorder.outgoing) on real sockets and a real HTTP server."""

from __future__ import annotations

import http.server
import threading
import urllib.error
import urllib.request

import pytest

from recorder.outgoing import OutgoingPolicy, RefusedAddress, parse_networks


@pytest.fixture
def redirecting_server():
    """A loopback HTTP server: /ok answers, /away redirects to a metadata address and /here
    to itself; it records the Authorization headers it was sent."""
    seen: list[tuple[str, str | None]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            seen.append((self.path, self.headers.get("Authorization")))
            if self.path == "/ok":
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"fine")
                return
            target = ("http://169.254.169.254/latest/meta-data/" if self.path == "/away"
                      else f"http://127.0.0.1:{self.server.server_address[1]}/ok")
            self.send_response(302)
            self.send_header("Location", target)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], seen
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("address", [
    "169.254.169.254", "169.254.170.2", "fe80::1", "fd00:ec2::254", "100.100.100.200",
    "168.63.129.16", "0.0.0.0", "0.1.2.3", "::", "255.255.255.255", "::ffff:169.254.169.254",
    "224.0.0.1"])
def test_never_opened_whatever_the_operator_allows(address):
    for policy in (OutgoingPolicy(), OutgoingPolicy(["any"])):
        with pytest.raises(RefusedAddress):
            policy.check_ip(address)


def test_default_networks_are_loopback_and_private():
    policy = OutgoingPolicy()
    for address in ("127.0.0.1", "127.9.9.9", "::1", "10.1.2.3", "172.16.0.1", "192.168.1.64",
                    "fd12::1", "::ffff:192.168.1.2"):
        assert policy.refusal(address) is None, address
    for address in ("8.8.8.8", "172.32.0.1", "2001:db8::1", "100.64.0.1"):
        assert policy.refusal(address) is not None, address
    assert policy.refusal("239.1.1.1", listen=True) is None  # udp multicast inputs


def test_the_operator_names_networks_addresses_and_hosts():
    policy = OutgoingPolicy(["203.0.113.0/24", "198.51.100.7", "Cam.Example.org."])
    assert policy.refusal("203.0.113.9") is None
    assert policy.refusal("198.51.100.7") is None
    assert policy.refusal("198.51.100.8") is not None
    assert policy.refusal("127.0.0.1") is not None  # only what is listed
    assert policy.refusal("192.0.2.1", host="cam.example.org") is None
    assert policy.refusal("169.254.169.254", host="cam.example.org") is not None
    with pytest.raises(ValueError):
        parse_networks(["not a host/99"])


def test_names_are_resolved_and_every_address_checked():
    assert OutgoingPolicy().resolve("localhost", 80)
    with pytest.raises(RefusedAddress):
        OutgoingPolicy(["10.0.0.0/8"]).resolve("localhost", 80)


def test_connections_go_to_the_checked_address(redirecting_server):
    port, seen = redirecting_server
    with OutgoingPolicy().create_connection(("localhost", port), 5):
        pass
    with pytest.raises(RefusedAddress):
        OutgoingPolicy(["10.0.0.0/8"]).create_connection(("127.0.0.1", port), 5)


def test_http_never_follows_a_redirect_and_credentials_stay(redirecting_server):
    port, seen = redirecting_server
    policy = OutgoingPolicy()
    with policy.urlopen(f"http://127.0.0.1:{port}/ok", timeout=5) as answer:
        assert answer.read() == b"fine"
    for path in ("/away", "/here"):
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                         headers={"Authorization": "Bearer site-secret"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            policy.urlopen(request, timeout=5)
        assert refused.value.code == 302
    # the redirect targets were never asked, with or without the credential
    assert [path for path, _ in seen] == ["/ok", "/away", "/here"]
    with pytest.raises(RefusedAddress):
        OutgoingPolicy(["10.0.0.0/8"]).urlopen(f"http://127.0.0.1:{port}/ok", timeout=5)


def test_pinned_urls_name_the_checked_address():
    policy = OutgoingPolicy()
    url, host = policy.pin_url("http://user:pw@localhost:8080/video.mjpg?x=1")
    assert url in ("http://user:pw@127.0.0.1:8080/video.mjpg?x=1",
                   "http://user:pw@[::1]:8080/video.mjpg?x=1")
    assert host == "localhost:8080"
    assert policy.pin_url("rtsp://127.0.0.1/x") == ("rtsp://127.0.0.1/x", None)
    with pytest.raises(RefusedAddress):
        policy.pin_url("http://169.254.169.254/latest/meta-data/x.nfo")
