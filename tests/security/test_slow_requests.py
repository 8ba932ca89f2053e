"""Slow requests against a real station process (issue #21 item 5): network work that never
ends (a camera that accepts and then trickles one byte at a time, a station of the site that
does the same) may hold the threads of its own lane only. While as many such requests as the
lane takes are in progress, catalog requests are still answered, and one more slow request is
refused at once with 503 and `Retry-After` in the native shape.

No timing: a slow request counts as in progress once the silent server has accepted its
connection, and as still in progress while the server has not let it go."""

from __future__ import annotations

import sqlite3
import socket
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from tests.conftest import TESTSRC, wait_until
from tests.support.onvif_camera import OnvifCamera, Profile
from tests.support.station_process import StationProcess

LANE = 8  # api_network_calls' default
PEER = "silent-peer"
PEER_SAYS = "as the silent peer reports it"


class TricklingServer:
    """Accepts every connection and answers a never-ending HTTP head, one byte per 0.2 s
    (no read timeout of the station's clients ever fires), until `release()`."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self._released = threading.Event()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._released.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self._lock:
                self._conns.append(conn)
                self.accepted += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        try:
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not self._released.wait(0.2):
                conn.sendall(b"a")
        except OSError:
            pass

    def release(self) -> None:
        """Stop listening and cut every connection: the slow requests end at once."""
        self._released.set()
        self.sock.close()
        with self._lock:
            for conn in self._conns:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                conn.close()


@pytest.fixture
def trickler():
    server = TricklingServer()
    yield server
    server.release()


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    """One station process for both lanes: each test frees the lane it filled, and the
    silent peer the forwarding test adds is no camera the discovery test reads."""
    with StationProcess(tmp_path_factory.mktemp("slow"), name="slow") as st:
        yield st


def in_flight(pool: ThreadPoolExecutor, count: int, fn) -> list[Future]:
    return [pool.submit(fn, i) for i in range(count)]


def catalog_answers(station, count: int = 20) -> None:
    """`count` catalog requests side by side (more than asyncio's default pool has threads),
    every one answered."""
    paths = ["/api/v1/source", "/api/v1/group", "/api/v1/storage"]
    with ThreadPoolExecutor(count) as pool:
        answers = list(pool.map(lambda i: station.call("GET", paths[i % 3], timeout=30),
                                range(count)))
    assert [status for status, _, _ in answers] == [200] * count


def assert_busy(answer, lane: str) -> None:
    status, body, headers = answer
    assert status == 503, (status, body)
    assert headers.get("Retry-After")
    assert isinstance(body, dict) and f"too many {lane} requests" in body["detail"]


def test_cameras_that_never_answer_hold_the_discovery_lane_only(station, trickler):
    profiles = {"address": f"127.0.0.1:{trickler.port}", "user": "admin", "password": "pw"}
    with ThreadPoolExecutor(LANE) as pool:
        slow = in_flight(pool, LANE, lambda i: station.call(
            "POST", "/api/v1/discovery/profiles", profiles, timeout=120))
        wait_until(lambda: trickler.accepted == LANE, 30,
                   message=f"{LANE} profile reads connected to the silent camera")

        catalog_answers(station)  # the catalog keeps its threads
        # One more camera read, and a probe (the same lane), are refused at once.
        assert_busy(station.call("POST", "/api/v1/discovery/profiles", profiles), "discovery")
        assert_busy(station.call("POST", "/api/v1/discovery", {"wait_s": 0.2}), "discovery")
        assert not any(f.done() for f in slow), "a slow request ended before the camera let go"
        assert trickler.accepted == LANE  # the refused ones never reached the network

        trickler.release()
        answers = [f.result(60) for f in slow]
    assert [status for status, _, _ in answers] == [422] * LANE
    assert all(body["detail"][0]["type"] == "camera_unreachable" for _, body, _ in answers)
    # the lane is free again: a read is taken, by a camera that answers (a camera refusing
    # it would be told only after discovery's uniform failure delay, 5 s)
    with OnvifCamera([Profile("main", 640, 360, "rtsp://127.0.0.1:9/main")],
                     user="admin", password="pw") as camera:
        status, body, _ = station.call("POST", "/api/v1/discovery/profiles",
                                       {**profiles, "address": camera.address}, timeout=60)
        assert status == 200, body
        assert "GetProfiles" in camera.calls


def catalog_path(station) -> str:
    return str(station.data_dir / "catalog.sqlite3")


def add_silent_peer(station, port: int, source_id: int) -> None:
    """What anyone who can write a shared catalog can do: a station row whose URL is a server
    that never answers, online for ever, owning `source_id`."""
    with sqlite3.connect(catalog_path(station)) as db:
        db.execute("INSERT INTO station (id, name, url, version, started_utc, last_seen_utc, "
                   "stopped, source_status, disk) VALUES (?, ?, ?, ?, ?, ?, 0, ?, NULL)",
                   (PEER, "silent", f"http://127.0.0.1:{port}", "0.1.0",
                    "2099-01-01 00:00:00.000000", "2099-01-01 00:00:00.000000",
                    f'{{"{source_id}": ["connecting", "{PEER_SAYS}"]}}'))
        db.execute("UPDATE source SET station_id = ? WHERE id = ?", (PEER, source_id))


def test_stations_that_never_answer_hold_the_forwarding_lane_only(station, trickler):
    status, source, _ = station.call("POST", "/api/v1/source",
                                     {"name": "theirs", "uri_rtsp": TESTSRC})
    assert status == 200, source
    status, (group,), _ = station.call("POST", "/api/v1/group", {"name": "spread"})
    assert status == 200, group
    assert station.call("POST", f"/api/v1/group/{group['id']}/source/{source['id']}")[0] == 200
    add_silent_peer(station, trickler.port, source["id"])
    # the status the peer's row reports: the station's last beat has read the row
    wait_until(lambda: station.call("GET", f"/api/v1/source/{source['id']}")[1].get("error")
               == PEER_SAYS, 30, message="the station sees the peer's source")

    with ThreadPoolExecutor(LANE) as pool:
        slow = in_flight(pool, LANE, lambda i: station.call(
            "POST", "/api/v1/record", {"tag_name": f"t{i}", "group_name": "spread"},
            timeout=120))
        wait_until(lambda: trickler.accepted == LANE, 30,
                   message=f"{LANE} starts forwarded to the silent station")

        catalog_answers(station)
        assert_busy(station.call("POST", "/api/v1/record",
                                 {"tag_name": "one-more", "group_name": "spread"}), "forward")
        assert_busy(station.call("POST", "/api/v1/record/sources",
                                 {"tag_name": "one-more", "source_ids": [source["id"]]}), "forward")
        assert_busy(station.call("PUT", "/api/v1/record", {"tag_name": "t0"}), "forward")
        # A request another station forwarded here is never forwarded again: no lane needed,
        # and it does not wait (this station owns none of the group's sources).
        status, body, _ = station.call("POST", "/api/v1/record",
                                       {"tag_name": "hop", "group_name": "spread"},
                                       headers={"X-RS-Forwarded-By": PEER})
        assert status != 503, body
        assert not any(f.done() for f in slow), "a forwarded start ended before the peer let go"
        assert trickler.accepted == LANE

        trickler.release()
        answers = [f.result(60) for f in slow]
    assert {status for status, _, _ in answers} == {503}  # the owner did not answer
    assert not any("too many" in str(body) for _, body, _ in answers)
