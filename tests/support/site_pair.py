"""Two stations of one site in the test's process (north and south, one SQLite catalog, each
with its API on a loopback port and announced), and a plain HTTP call to one of them: what a
test of a request forwarded from one station to the other needs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from api.server import ApiServer
from app.station import Station, build_station, start_station, stop_station
from tests.conftest import make_settings


@contextmanager
def two_stations(tmp_path: Path, token: str) -> Iterator[tuple[list[Station], str]]:
    """([north, south], north's API URL); the stations sign what they forward with `token`."""
    shared = f"sqlite:///{tmp_path / 'shared.sqlite3'}"
    stations, servers = [], []
    try:
        for name in ("north", "south"):
            st = build_station(make_settings(tmp_path / name, database_url=shared,
                                             station_name=name, token=token))
            start_station(st)
            stations.append(st)
            server = ApiServer(st, "127.0.0.1", 0).start()
            servers.append(server)
            st.site.announce(server.url.rstrip("/"))
        yield stations, servers[0].url
    finally:
        for server in servers:
            server.stop()
        for st in stations:
            stop_station(st)


def call(url: str, method: str, path: str, body=None, token: str | None = None):
    """(status, JSON answer) of one request, refusals included."""
    request = urllib.request.Request(
        url.rstrip("/") + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json",
                 **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)
