"""Several station processes on one PostgreSQL catalog, on loopback, as a site runs them
(docs/scale-out.md): each sees the others' sources, a group spread over them records on every
owner, footage of another station comes through the proxy byte for byte, a station killed shows
offline on the others and recovers its own records when it comes back, racing starts give one
record per source; another station's source's motion detector is its owner's (asked and changed
there; its stored settings and "unknown" while the owner is away)."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from app.credentials import KEY_FILE
from tests.conftest import TESTSRC
from tests.support.station_process import StationProcess

TOKEN = "site-shared-token"
WAIT_S = 25


class Site:
    def __init__(self, tmp_path: Path, database_url: str):
        self.tmp_path, self.env = tmp_path, {"RS_DATABASE_URL": database_url, "RS_TOKEN": TOKEN}
        self.stations: dict[str, StationProcess] = {}

    def start(self, name: str, *, share_key: bool = True) -> StationProcess:
        """A station with a config folder of its own, as on its own machine; given the site's
        credentials key (copied from the first station, as the operator does) unless not."""
        config = self.tmp_path / f"{name}-config" / "config.toml"
        config.parent.mkdir(exist_ok=True, mode=0o700)
        key = config.parent / KEY_FILE
        if share_key and self.stations and not key.exists():
            first = next(iter(self.stations.values()))
            shutil.copy2(Path(first.config_dir) / KEY_FILE, key)
        station = StationProcess(self.tmp_path, name=name, env={
            **self.env, "RS_STATION_NAME": name, "RS_CONFIG_FILE": str(config)})
        station.config_dir = str(config.parent)
        self.stations[name] = station
        return station

    def stop_all(self) -> None:
        for station in self.stations.values():
            if station.proc.poll() is None:
                station.stop()


def call(station: StationProcess, method: str, path: str, body=None, expect: int = 200):
    return station.expect(method, path, body, token=TOKEN, expect=expect)


def eventually(check, what: str, timeout: float = WAIT_S):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout} s: {what}")
        time.sleep(0.2)


def station_id(station: StationProcess) -> str:
    return next(s["id"] for s in call(station, "GET", "/api/v1/station") if s["this"])


@pytest.fixture
def site(tmp_path: Path, postgres_server):
    current = Site(tmp_path, postgres_server.new_database())
    yield current
    current.stop_all()


def test_three_stations_record_one_group_and_serve_each_others_footage(site: Site):
    names = ("north", "south", "west")
    stations = [site.start(name) for name in names]
    ids = [station_id(st) for st in stations]
    assert len(set(ids)) == 3
    sources = [call(st, "POST", "/api/v1/source", {"name": f"cam-{name}", "uri_rtsp": TESTSRC})
               for st, name in zip(stations, names)]
    assert [s["station"] for s in sources] == ids  # new sources belong to their creator
    north, south, west = stations
    group = call(north, "POST", "/api/v1/group", {"name": "site"})[0]
    for source in sources:
        assert call(north, "POST", f"/api/v1/group/{group['id']}/source/{source['id']}/") is True

    # every station lists every station online, and every source as its owner reads it
    for st in stations:
        listed = call(st, "GET", "/api/v1/station")
        assert {s["id"] for s in listed if s["online"]} == set(ids)
        assert {s["id"]: s["sources"] for s in listed} == {
            sid: [src["id"]] for sid, src in zip(ids, sources)}
        eventually(lambda st=st: all(s["status"] == "online"
                                     for s in call(st, "GET", "/api/v1/source")),
                   f"{st.data_dir.name} sees every source online")

    # a group spread over three stations, started on one: each owner records its own
    started = call(west, "POST", "/api/v1/record", {"tag_name": "site-day", "group_name": "site"})
    assert sorted((r["source"]["id"], r["station"]) for r in started) == sorted(
        (s["id"], s["station"]) for s in sources)
    assert all(r["status"] == "recording" for r in started)
    running = call(south, "GET", "/api/v1/station")
    assert [s["recordings_running"] for s in running] == [1, 1, 1]
    time.sleep(2.5)
    stopped = call(south, "PUT", "/api/v1/record", {"tag_name": "site-day"})
    assert len(stopped) == 3 and all(r["status"] == "finished" and r["hash_md5"] for r in stopped)

    # another station's file through the proxy: whole, and a range of it
    record = next(r for r in stopped if r["station"] == ids[0])  # on north's disk
    status, data, headers = west.request("GET", f"/api/v1/record/{record['id']}/video",
                                         headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and hashlib.md5(data).hexdigest() == record["hash_md5"]
    assert int(headers["Content-Length"]) == len(data) == record["size_bytes"]
    status, part, headers = west.request("GET", f"/api/v1/record/{record['id']}/video", headers={
        "Authorization": f"Bearer {TOKEN}", "Range": "bytes=1000-4999"})
    assert status == 206 and part == data[1000:5000]
    assert headers["Content-Range"] == f"bytes 1000-4999/{len(data)}"
    # a picture of a source another station reads
    status, jpeg, headers = west.request("GET", f"/api/v1/source/{sources[1]['id']}/picture",
                                         headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and headers["Content-Type"] == "image/jpeg" and jpeg[:2] == b"\xff\xd8"

    # two stations racing to start the same tag: one record per source
    answers = []
    threads = [threading.Thread(target=lambda st=st: answers.append(call(
        st, "POST", "/api/v1/record", {"tag_name": "race", "group_name": "site"})))
        for st in (north, south)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 2
    tag = call(west, "GET", "/api/v1/tag?name=race")
    assert sorted(r["source"]["id"] for r in tag["records"]) == sorted(s["id"] for s in sources)
    assert len(call(north, "PUT", "/api/v1/record", {"tag_name": "race"})) == 3


def owners_motion_through(north: StationProcess, south: StationProcess, motion: str) -> dict:
    """Only a source's owner (south) analyses it: north answers `GET …/motion` with what
    south's analyser reports (not "off"), and passes a change on to south, which applies it
    at once (no heartbeat waited for); a bad value is refused on north with its field. The
    settings north changed."""
    seen = eventually(lambda: (lambda b: b["analysing"] == "keyframes" and b["rate_fps"] > 0
                               and b)(call(north, "GET", motion)), "north reports south's analyser")
    assert seen["error"] is None and seen["settings"]["sensitivity"] == 50
    asked = time.monotonic()
    changed = call(north, "PUT", motion, {"sensitivity": 77, "fps": 2.0, "zones": [
        {"name": "door", "kind": "include", "points": [[0, 0], [0.5, 0], [0.5, 1]]}]})
    assert time.monotonic() - asked < 3.0  # under a heartbeat: forwarded, not picked up later
    assert changed["analysing"] == "keyframes"  # south's answer, not north's "off"
    owned = call(south, "GET", motion)  # south's analyser has them (its status reads them)
    assert owned["settings"] == changed["settings"]
    assert (owned["settings"]["sensitivity"], owned["settings"]["fps"]) == (77, 2.0)
    assert [zone["name"] for zone in owned["settings"]["zones"]] == ["door"]
    status, refused, _ = north.call("PUT", motion, {"sensitivity": 0}, token=TOKEN)
    assert status == 422 and refused["detail"][0]["loc"] == ["body", "sensitivity"]
    assert call(south, "GET", motion)["settings"] == owned["settings"]
    return owned["settings"]


def test_a_station_killed_shows_offline_and_recovers_its_records(site: Site):
    north, south = site.start("north"), site.start("south")
    north_id, south_id = station_id(north), station_id(south)
    cam_n = call(north, "POST", "/api/v1/source", {"name": "cam-n", "uri_rtsp": TESTSRC})
    cam_s = call(south, "POST", "/api/v1/source", {"name": "cam-s", "uri_rtsp": TESTSRC})
    group = call(north, "POST", "/api/v1/group", {"name": "pair"})[0]
    for source in (cam_n, cam_s):
        call(north, "POST", f"/api/v1/group/{group['id']}/source/{source['id']}/")
    eventually(lambda: all(s["status"] == "online" for s in call(north, "GET", "/api/v1/source")),
               "both sources online")
    motion = f"/api/v1/source/{cam_s['id']}/motion"
    changed_by_north = owners_motion_through(north, south, motion)
    started = call(north, "POST", "/api/v1/record", {"tag_name": "night", "group_name": "pair"})
    south_record = next(r for r in started if r["station"] == south_id)
    time.sleep(2)

    os.kill(south.proc.pid, signal.SIGKILL)
    south.proc.wait(10)
    killed_at = time.monotonic()
    listed = eventually(lambda: next((s for s in call(north, "GET", "/api/v1/station")
                                      if s["id"] == south_id and not s["online"]), None),
                        "south offline on north", timeout=20)
    assert time.monotonic() - killed_at <= 16  # 15 s without a heartbeat, read at once
    assert "not seen" in listed["offline_reason"]
    seen = call(north, "GET", f"/api/v1/source/{cam_s['id']}")
    assert seen["status"] == "offline" and "south" in seen["error"]
    # nothing of it is changed by others: not its sources, not its records
    status, refused, _ = north.call("PUT", f"/api/v1/source/{cam_s['id']}",
                                    {"description": "changed behind its back"}, token=TOKEN)
    assert status == 422 and "south" in str(refused)
    # its motion detector: the stored settings, "unknown" and why; a change is refused too
    away = call(north, "GET", motion)
    assert away["analysing"] == "unknown" and "south" in away["error"] and not away["active"]
    assert away["settings"] == changed_by_north
    status, refused, _ = north.call("PUT", motion, {"sensitivity": 60}, token=TOKEN)
    assert status == 422 and "south" in str(refused)
    stopped = call(north, "PUT", "/api/v1/record", {"tag_name": "night"})
    assert [r["station"] for r in stopped] == [north_id]  # south's record is south's to close
    assert call(north, "GET", f"/api/v1/record/{south_record['id']}")["status"] == "recording"
    # a start while an owner is away records what can be recorded
    partial = call(north, "POST", "/api/v1/record", {"tag_name": "later", "group_name": "pair"})
    assert [r["station"] for r in partial] == [north_id]
    call(north, "PUT", "/api/v1/record", {"tag_name": "later"})

    south = site.start("south")  # same config file: the same station comes back
    assert station_id(south) == south_id
    recovered = call(north, "GET", f"/api/v1/record/{south_record['id']}")
    assert recovered["status"] == "interrupted" and recovered["hash_md5"]
    eventually(lambda: next(s["online"] for s in call(north, "GET", "/api/v1/station")
                            if s["id"] == south_id), "south online again on north")
    status, data, _ = north.request("GET", f"/api/v1/record/{south_record['id']}/video",
                                    headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200 and hashlib.md5(data).hexdigest() == recovered["hash_md5"]


def test_a_station_without_the_sites_credentials_key_says_what_to_do(site: Site):
    north = site.start("north")
    call(north, "POST", "/api/v1/source",
         {"name": "door", "uri_rtsp": "rtsp://admin:door-secret@127.0.0.1:1/stream"})
    with pytest.raises(RuntimeError) as refused:  # its own new key cannot read the catalog
        site.start("stray", share_key=False)
    said = str(refused.value)
    assert "share one credentials key" in said and KEY_FILE in said
    assert "Traceback" not in said and "door-secret" not in said
