"""Issue #21 items 4, 7, 13 and 15, attacked on real station processes sharing one SQLite
catalog (as stations of one machine share it; a site across machines shares PostgreSQL the
same way): whoever writes the catalog adds station rows pointing at servers of theirs and
moves sources and records onto them.

- a catalog row pointing at a rogue loopback server never gets the site token, nor anything
  another station (or the same one, again) accepts; its answers never reach the client;
- a redirect from such a server is never followed, with or without credentials;
- rows with user-info, a path, an unspecified address (0.0.0.0) are never asked at all;
- the proxy's pools: a full one answers 503 after its pool timeout while other forwarded
  requests still pass, and one client holds a bounded number of proxied streams;
- public_url with a password (or 0.0.0.0) is refused at start, naming no password; a row an
  older station wrote with one is listed without it;
- a station bound to 0.0.0.0 without public_url never announces 0.0.0.0.
"""

from __future__ import annotations

import http.client
import http.server
import json
import signal
import socket
import sqlite3
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.conftest import wait_until
from tests.support.station_process import StationProcess

TOKEN = "site-token-never-travels-0123456789"
MARKER = b"ROGUE-PAGE-7c1d"
TESTSRC = "testsrc://testsrc2?size=320x240&rate=10&gop=1"
WAIT_S = 20


# --- servers the attacker runs --------------------------------------------------------------
class Rogue:
    """A loopback HTTP server of the attacker's: records every request (method, path, headers,
    body); `mode` says how it answers: `page` (200 with MARKER), `redirect` (302 to `location`),
    `tarpit` (reads the request, never answers until closed)."""

    def __init__(self, mode: str, location: str | None = None):
        self.mode, self.location = mode, location
        self.requests: list[dict] = []
        self.connections = 0
        self.cond = threading.Condition()
        self.release = threading.Event()
        rogue = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def setup(self):
                super().setup()
                with rogue.cond:
                    rogue.connections += 1
                    rogue.cond.notify_all()

            def _any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with rogue.cond:
                    rogue.requests.append({"method": self.command, "path": self.path,
                                           "headers": {k.lower(): v for k, v in self.headers.items()},
                                           "body": body})
                    rogue.cond.notify_all()
                if rogue.mode == "tarpit":
                    rogue.release.wait(60)
                    return
                if rogue.mode == "redirect":
                    self.send_response(302)
                    self.send_header("Location", rogue.location + self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                page = b"[]" if self.command == "POST" else MARKER
                self.send_response(200)
                self.send_header("Content-Type", "application/json" if self.command == "POST"
                                 else "image/jpeg")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            do_GET = do_POST = do_PUT = _any  # noqa: N815 - http.server's names

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def wait(self, check, what: str, timeout: float = WAIT_S):
        with self.cond:
            if not self.cond.wait_for(lambda: check(self), timeout):
                raise AssertionError(f"not within {timeout} s: {what}")

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


# --- the site ---------------------------------------------------------------------------------
class Site:
    def __init__(self, root: Path):
        self.root = root
        self.catalog = root / "catalog.sqlite3"
        env = {"RS_DATABASE_URL": f"sqlite:///{self.catalog}", "RS_TOKEN": TOKEN}
        # one config folder (root): both stations find the same credentials.key there
        self.north = StationProcess(root, name="north", env={**env, "RS_STATION_NAME": "north"})
        self.south = StationProcess(root, name="south", env={**env, "RS_STATION_NAME": "south"})
        self.ids = {name: self.own_id(st) for name, st in
                    (("north", self.north), ("south", self.south))}

    def call(self, station: StationProcess, method: str, path: str, body=None, expect=200, **kw):
        status, data, _ = station.call(method, path, body, token=TOKEN, timeout=30, **kw)
        assert status == expect, (method, path, status, data)
        return data

    def own_id(self, station: StationProcess) -> str:
        return next(s["id"] for s in self.call(station, "GET", "/api/v1/station") if s["this"])

    def sql(self, statement: str, *args, timeout: float = 30):
        """What whoever holds the catalog's password does."""
        with sqlite3.connect(self.catalog, timeout=timeout) as db:
            return db.execute(statement, args).fetchall()

    def last_seen(self, station_id: str) -> str:
        """When the station's last heartbeat was written."""
        return self.sql("SELECT last_seen_utc FROM station WHERE id = ?", station_id)[0][0]

    def add_station(self, station_id: str, url: str) -> None:
        """A station row that stays online (seen an hour from now) at `url`."""
        seen = (datetime.now(timezone.utc) + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
        self.sql("INSERT INTO station (id, name, url, version, started_utc, last_seen_utc, "
                 "stopped, source_status, disk) VALUES (?, ?, ?, '0.1.0', ?, ?, 0, '{}', NULL)",
                 station_id, station_id, url, seen, seen)

    def move_source(self, source_id: int, station_id: str) -> None:
        self.sql("UPDATE source SET station_id = ? WHERE id = ?", station_id, source_id)
        # north sees the new owner at its next beat (every 3 s)
        wait_for(lambda: self.call(self.north, "GET", f"/api/v1/source/{source_id}")["error"]
                 == "the owner has not reported it yet", f"north sees source {source_id} moved")

    def source(self, station: StationProcess, name: str) -> dict:
        return self.call(station, "POST", "/api/v1/source", {"name": name, "uri_rtsp": TESTSRC})

    def stop(self):
        for st in (self.north, self.south):
            st.stop()


def wait_for(check, what: str, timeout: float = WAIT_S):
    return wait_until(check, timeout, interval=0.1, message=what)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    current = Site(tmp_path_factory.mktemp("site"))
    yield current
    current.stop()


_replayers = iter(f"127.0.{n // 250 + 60}.{n % 250 + 2}" for n in range(5000))


def replay(station: StationProcess, captured: dict) -> int:
    """Send a captured request, headers and all, to a real station: its status. Each replay
    comes from an address of its own, so the failures it causes lock no other client out."""
    headers = {k: v for k, v in captured["headers"].items()
               if k not in ("host", "content-length", "connection", "accept-encoding")}
    conn = http.client.HTTPConnection(station.host, station.port, timeout=15,
                                      source_address=(next(_replayers), 0))
    try:
        conn.request(captured["method"], captured["path"], body=captured["body"] or None,
                     headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


def assert_no_credential(rogue: Rogue, site: Site) -> None:
    """The rogue got no site token, and nothing it got opens any station."""
    for captured in rogue.requests:
        text = json.dumps(captured["headers"]) + captured["path"]
        assert TOKEN not in text and urllib.parse.quote(TOKEN) not in text
        assert "bearer" not in captured["headers"].get("authorization", "").lower()
        for station in (site.north, site.south):
            assert replay(station, captured) == 401, captured["path"]


# --- item 4: catalog rows that route the site token -------------------------------------------
def test_a_catalog_row_pointing_at_a_rogue_server_gets_no_credential(site: Site):
    rogue = Rogue("page")
    try:
        site.add_station("rogue-a", rogue.url)
        cam = site.source(site.south, "moved-away")
        site.move_source(cam["id"], "rogue-a")
        # a picture and a stream of the moved source, asked of north, go to the rogue URL:
        # it gets a signed request for station "rogue-a", and its answer is not passed on
        status, body, _ = site.north.request("GET", f"/api/v1/source/{cam['id']}/picture",
                                             headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 502 and MARKER not in body
        status, body, _ = site.north.request("GET", f"/api/v1/source/{cam['id']}/video?delay=1",
                                             headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 502 and MARKER not in body
        # a start forwarded to the rogue "owner": refused, never an answer taken from it
        status, body, _ = site.north.call("POST", "/api/v1/record/sources",
                                          {"tag_name": "to-rogue", "source_ids": [cam["id"]]},
                                          token=TOKEN, timeout=30)
        assert status in (409, 503), (status, body)
        assert len(rogue.requests) == 3
        assert [r["headers"].get("x-rs-target") for r in rogue.requests] == ["rogue-a"] * 3
        assert_no_credential(rogue, site)
        # a record of north's own, moved onto the rogue: its file is not served from there
        own = site.source(site.north, "kept")
        wait_for(lambda: site.call(site.north, "GET", f"/api/v1/source/{own['id']}")["status"]
                 == "online", "north's camera online")
        (record,) = site.call(site.north, "POST", "/api/v1/record/sources",
                              {"tag_name": "moved-record", "source_ids": [own["id"]]})
        site.call(site.north, "PUT", "/api/v1/record", {"tag_name": "moved-record"})
        site.sql("UPDATE record SET station_id = 'rogue-a' WHERE id = ?", record["id"])
        status, body, _ = site.north.request("GET", f"/api/v1/record/{record['id']}/video",
                                             headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 502 and MARKER not in body
        assert len(rogue.requests) == 4
        assert_no_credential(rogue, site)
        assert TOKEN not in site.north.log_text()
    finally:
        rogue.close()


def hold_with_row_at(site: Site, url: str) -> None:
    """South stopped (SIGSTOP) with its row pointing at `url`: its heartbeat, which writes
    its own URL back, cannot run until `SIGCONT`. Stopped while it held the catalog's write
    lock (a beat's transaction: milliseconds every 3 s), it is continued and stopped again
    once the lock is free."""
    deadline = time.monotonic() + WAIT_S
    while True:
        site.south.proc.send_signal(signal.SIGSTOP)
        try:
            site.sql("UPDATE station SET url = ? WHERE id = ?", url, site.ids["south"],
                     timeout=1)
            return
        except sqlite3.OperationalError:
            site.south.proc.send_signal(signal.SIGCONT)
            assert time.monotonic() < deadline, "south's row could not be written"
            site.sql("SELECT 1")  # waits out south's transaction


def test_a_real_stations_row_pointed_elsewhere_leaks_one_spent_request(site: Site):
    """The row of south itself is given the rogue's URL (until south's next beat puts it
    back): what north then sends is signed for south only, for that request only.

    South is held (SIGSTOP) from the row's change until north has asked: north reads rows
    at its own beat, south restores its row at its own, and with the two beats close in
    phase north kept reading the row just after south had restored it (20 s on CI). Held,
    south restores nothing, and north's first beat after the change reads the rogue's URL
    (a beat writes its heartbeat and then reads the rows in one transaction)."""
    rogue = Rogue("page")
    try:
        cam = site.source(site.south, "south-cam")
        wait_for(lambda: site.call(site.north, "GET", f"/api/v1/source/{cam['id']}")["status"]
                 == "online", "north sees south's camera")
        hold_with_row_at(site, rogue.url)
        try:
            beat = site.last_seen(site.ids["north"])
            wait_for(lambda: site.last_seen(site.ids["north"]) != beat,
                     "north's next beat, which reads the rogue's URL")
            site.north.request("GET", f"/api/v1/source/{cam['id']}/picture",
                               headers={"Authorization": f"Bearer {TOKEN}"})
        finally:
            site.south.proc.send_signal(signal.SIGCONT)
        (captured,) = rogue.requests  # north asked the rogue in south's place, once
        assert captured["headers"]["x-rs-target"] == site.ids["south"]
        assert TOKEN not in json.dumps(captured["headers"])
        # not valid at north, nor at south for another path, nor twice
        assert replay(site.north, captured) == 401
        other = {**captured, "path": "/api/v1/source"}
        assert replay(site.south, other) == 401
        first, second = replay(site.south, captured), replay(site.south, captured)
        assert second == 401 and first in (200, 401)  # spent once at most, within 30 s
        # the picture north serves comes from south again once its beat restores the row
        wait_for(lambda: site.north.request(
            "GET", f"/api/v1/source/{cam['id']}/picture",
            headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200, "south's row restored")
    finally:
        rogue.close()


def test_redirects_and_malformed_rows_are_never_followed(site: Site):
    collector = Rogue("page")
    redirector = Rogue("redirect", location=collector.url)
    try:
        site.add_station("rogue-redirect", redirector.url)
        cam = site.source(site.south, "redirected")
        site.move_source(cam["id"], "rogue-redirect")
        for path in (f"/api/v1/source/{cam['id']}/picture",
                     f"/api/v1/source/{cam['id']}/video?delay=1"):
            status, body, headers = site.north.request(
                "GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
            assert status == 502 and "Location" not in headers
        site.north.call("POST", "/api/v1/record/sources",
                        {"tag_name": "redirected", "source_ids": [cam["id"]]}, token=TOKEN)
        assert len(redirector.requests) == 3 and collector.connections == 0
        assert_no_credential(redirector, site)

        # rows whose URL is more than scheme://host:port, or names no usable host: never asked
        port = collector.port
        urls = (f"http://admin:pw@127.0.0.1:{port}", f"http://0.0.0.0:{port}",
                f"http://127.0.0.1:{port}/prefix", f"http://127.0.0.1:{port}?x=1",
                f"ftp://127.0.0.1:{port}", f"http://[::]:{port}", "http://169.254.169.254",
                f"http://127.0.0.1:{port}#f", f"http://127.0.0.1:{port}@169.254.169.254")
        moved = []
        for n, url in enumerate(urls):
            site.add_station(f"rogue-url-{n}", url)
            moved.append(site.source(site.south, f"bad-url-{n}")["id"])
            site.sql("UPDATE source SET station_id = ? WHERE id = ?", f"rogue-url-{n}", moved[-1])
        for url, source_id in zip(urls, moved):
            wait_for(lambda: site.call(site.north, "GET", f"/api/v1/source/{source_id}")["error"]
                     == "the owner has not reported it yet", "north sees the sources moved")
            status, _, _ = site.north.request("GET", f"/api/v1/source/{source_id}/picture",
                                              headers={"Authorization": f"Bearer {TOKEN}"})
            assert status == 503, url
        assert collector.connections == 0
        # item 13: a row an older station wrote with a password is listed without it
        listed = {s["id"]: s["url"] for s in site.call(site.north, "GET", "/api/v1/station")}
        assert listed["rogue-url-0"] == f"http://127.0.0.1:{port}"
        assert "pw" not in json.dumps(listed)
    finally:
        redirector.close()
        collector.close()


# --- item 7: the site proxy's pools -----------------------------------------------------------
def open_stream(station: StationProcess, path: str, source: str) -> socket.socket:
    """A client that asks for a proxied stream from address `source` and never reads."""
    sock = socket.create_connection((station.host, station.port), timeout=30,
                                    source_address=(source, 0))
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {station.host}:{station.port}\r\n"
                 f"Authorization: Bearer {TOKEN}\r\n\r\n".encode())
    return sock


def status_of(sock: socket.socket) -> int:
    head = b""
    while b"\r\n" not in head:
        chunk = sock.recv(1024)
        if not chunk:
            break
        head += chunk
    return int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0


def test_a_full_pool_answers_503_and_other_forwarded_requests_pass(site: Site):
    from api.proxy import STREAMS_PER_CLIENT, STREAMS_PER_OWNER

    tarpit = Rogue("tarpit")
    held: list[socket.socket] = []
    try:
        site.add_station("rogue-tarpit", tarpit.url)
        cam = site.source(site.south, "tarpitted")
        site.move_source(cam["id"], "rogue-tarpit")
        path = f"/api/v1/source/{cam['id']}/video?delay=1"
        clients = [f"127.0.0.{n}" for n in range(2, 2 + STREAMS_PER_OWNER // STREAMS_PER_CLIENT)]
        for address in clients:
            for _ in range(STREAMS_PER_CLIENT):
                held.append(open_stream(site.north, path, address))
                count = len(held)
                tarpit.wait(lambda r: len(r.requests) == count, f"stream {count} held at the owner")
        # one client more: it waits for the owner's pool, then 503 (not for ever)
        late = open_stream(site.north, path, "127.0.0.100")
        held.append(late)
        # meanwhile: a client at its own cap is told so at once
        over = open_stream(site.north, path, clients[0])
        held.append(over)
        assert status_of(over) == 429
        # other forwarded requests pass: south's picture and a file of south's, through north
        south_cam = site.source(site.south, "still-served")
        wait_for(lambda: site.north.request(
            "GET", f"/api/v1/source/{south_cam['id']}/picture",
            headers={"Authorization": f"Bearer {TOKEN}"})[0] == 200, "south's picture via north")
        stream = open_stream(site.north, f"/api/v1/source/{south_cam['id']}/video?delay=0.2",
                             "127.0.0.101")
        held.append(stream)
        assert status_of(stream) == 200
        assert site.call(site.north, "GET", "/api/v1/source")
        assert status_of(late) == 503
        assert len(tarpit.requests) == STREAMS_PER_OWNER  # the late one never reached it
    finally:
        for sock in held:
            sock.close()
        tarpit.close()


# --- items 13 and 15: what a station announces --------------------------------------------------
@pytest.mark.parametrize("url, said", [
    ("http://admin:pw-4c9a@127.0.0.1:4035", "without a user name or password"),
    ("http://:pw-4c9a@127.0.0.1:4035", "without a user name or password"),
    ("http://0.0.0.0:4035", "0.0.0.0"),
    ("http://[::]:4035", "::"),
    ("http://127.0.0.1:4035/prefix?pw-4c9a", "more than a scheme"),
])
def test_public_url_with_a_password_or_unspecified_address_is_refused(tmp_path, url, said):
    with pytest.raises(RuntimeError) as refused:
        StationProcess(tmp_path, env={"RS_PUBLIC_URL": url, "RS_TOKEN": TOKEN},
                       start_timeout=30)
    text = str(refused.value)
    assert "public_url" in text and said in text
    assert "pw-4c9a" not in text and "Traceback" not in text


def test_a_station_bound_to_every_address_never_announces_0_0_0_0(site: Site):
    """Bound to 0.0.0.0 without public_url, in a network namespace of its own (nothing of the
    host's network is exposed): it announces the address that reaches its catalog (loopback,
    for a SQLite file only this machine shares), never 0.0.0.0, which the others would read
    as their own machine."""
    wide = StationProcess(site.root, name="wide", host="0.0.0.0", prefix=["unshare", "-n"],
                          env={"RS_DATABASE_URL": f"sqlite:///{site.catalog}", "RS_TOKEN": TOKEN,
                               "RS_STATION_NAME": "wide"})
    try:
        def announced():
            rows = site.sql("SELECT url FROM station WHERE name = 'wide'")
            return rows and rows[0][0]

        url = wait_for(announced, "the station announces an address")
        assert url == f"http://127.0.0.1:{wide.port}"
        listed = site.call(site.north, "GET", "/api/v1/station")
        assert next(s["url"] for s in listed if s["name"] == "wide") == url
    finally:
        wide.stop()


class _Catalog:
    """What the registry reads of its catalog to know whether the site spans machines."""

    def __init__(self, url: str):
        self.url, self.is_server = url, not url.startswith("sqlite")


@pytest.mark.parametrize("database, spans", [
    ("sqlite:////tmp/catalog.sqlite3", False),
    ("postgresql+psycopg://rs:pw@127.0.0.1:5432/site", False),
    ("postgresql+psycopg://rs:pw@localhost/site", False),
    ("postgresql+psycopg://rs:pw@/site?host=/run/postgresql", False),
    ("postgresql+psycopg://rs:pw@203.0.113.9:5432/site", True),
    ("postgresql+psycopg://rs:pw@db.example.org/site", True),
])
def test_a_loopback_address_is_never_announced_to_nor_asked_of_a_site_across_machines(
        database, spans):
    """Item 15 on a site whose catalog is on another machine: a station's loopback address
    would send the others to their own machine, so it is not announced, and a row that holds
    one is not asked; 0.0.0.0 becomes the address that reaches the database, or nothing."""
    from app.site.stations import StationRegistry

    registry = StationRegistry(_Catalog(database), station_id="s1", name="s1", url=None,
                               version="0", local_status=lambda _id: ("online", None),
                               storage_dir=Path("/tmp"), floor_bytes=lambda: 0)
    assert registry.spans_machines() is spans
    for url in ("http://127.0.0.1:4035", "http://localhost:4035", "http://[::1]:4035"):
        assert (registry._reachable(url) is None) is spans
        assert bool(registry.unreachable_from_here(url)) is spans
    assert registry._reachable("http://10.0.0.5:4035") == "http://10.0.0.5:4035"
    picked = registry._reachable("http://0.0.0.0:4035")
    if not spans:
        assert picked == "http://127.0.0.1:4035"
    else:  # the interface towards the database, never 0.0.0.0 nor loopback
        assert picked is None or not any(h in picked for h in ("0.0.0.0", "127.", "[::1]"))


def test_a_signature_is_good_once_for_its_station_its_path_body_and_time():
    from app.site import peer_auth

    now = [1_000_000.0]
    verifier = peer_auth.Verifier(clock=lambda: now[0])
    secret = "site-secret"

    def signed(**kw):
        args = {"sender": "a", "target": "b", "method": "POST", "path_qs": "/api/v1/record",
                "body": b'{"tag_name": "x"}', **kw}
        headers = peer_auth.sign(secret, **args)
        headers[peer_auth.TIME] = str(int(now[0]))
        # re-signed at the injected time
        headers["Authorization"] = peer_auth.SCHEME + " " + peer_auth._mac(
            peer_auth.station_key(secret, args["target"]), peer_auth._canonical(
                args["method"], args["path_qs"], args["sender"], args["target"],
                headers[peer_auth.TIME], headers[peer_auth.NONCE], headers[peer_auth.CONTENT]))
        return headers

    headers = signed()
    assert verifier.check(secret, "b", "POST", "/api/v1/record", headers)[0] == "a"
    with pytest.raises(ValueError, match="replay"):
        verifier.check(secret, "b", "POST", "/api/v1/record", headers)
    for own, method, path, key in (("c", "POST", "/api/v1/record", secret),   # another station
                                   ("b", "PUT", "/api/v1/record", secret),    # another method
                                   ("b", "POST", "/api/v1/record/x", secret),  # another path
                                   ("b", "POST", "/api/v1/record", "other")):  # another site
        with pytest.raises(ValueError):
            verifier.check(key, own, method, path, signed())
    late = signed()
    now[0] += peer_auth.WINDOW_S + 1
    with pytest.raises(ValueError, match="window"):
        verifier.check(secret, "b", "POST", "/api/v1/record", late)
    fresh = signed()
    assert peer_auth.body_matches(fresh, b'{"tag_name": "x"}')
    assert not peer_auth.body_matches(fresh, b'{"tag_name": "y"}')
    # the answer's proof: only the key of the station asked makes it
    assert peer_auth.answer_proved(secret, fresh, 200, {
        peer_auth.PROOF: peer_auth.proof(secret, "b", fresh[peer_auth.NONCE], 200)})
    assert not peer_auth.answer_proved(secret, fresh, 200, {
        peer_auth.PROOF: peer_auth.proof(secret, "b", fresh[peer_auth.NONCE], 404)})
    assert not peer_auth.answer_proved(secret, fresh, 200, {})
