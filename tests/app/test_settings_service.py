"""SettingsService.change on a real station (real catalog, real config file): one change is
checked, written to the file, taken over by the running services through LiveSettings and
audited with who made it; restart-only fields are saved and reported as waiting; a refused
value writes and changes nothing."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from app.services.settings import SettingsRefused
from app.settings import Settings

ACTOR = {"dialect": "native", "address": "10.0.0.7", "who": "token"}


@pytest.fixture
def config(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "config" / "config.toml"
    monkeypatch.setenv("RS_CONFIG_FILE", str(path))
    return path


def _file(path: Path) -> dict:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def _entries(station) -> list:
    assert station.audit.flush(5.0)
    return [e for e in station.audit.list().items if e.action == "save settings"]


def test_a_change_is_saved_applied_to_the_running_services_and_audited(station, config):
    done = station.settings_service.change(
        {"disk_floor_mb": 77, "station_name": "Studio C", "max_sources": 3}, ACTOR)

    assert _file(config) == {"disk_floor_mb": 77, "station_name": "Studio C", "max_sources": 3}
    assert Settings(data_dir=station.settings.data_dir).station_name == "Studio C"
    assert done.applied == {"disk_floor_mb", "station_name", "max_sources"} and not done.restart
    # every service reads the one LiveSettings: the new values, at once
    assert station.settings.disk_floor_mb == 77
    assert station.recordings.disk_floor_bytes == station.uploads.disk_floor_bytes == 77 << 20
    assert station.storage.floor_bytes == 77 << 20  # a follower: the guard took it
    assert station.sync.station_name == station.site.name == "Studio C"
    assert station.sources.settings().max_sources == 3

    (entry,) = _entries(station)
    assert (entry.dialect, entry.address, entry.who, entry.result) == (
        "native", "10.0.0.7", "token", "ok")
    assert entry.target == "settings disk_floor_mb, max_sources, station_name"


def test_restart_fields_are_saved_and_reported_as_waiting(station, config):
    done = station.settings_service.change({"port": 5123, "token": "s3cret-token",
                                            "preroll_s": 1.5}, ACTOR)
    assert _file(config) == {"port": 5123, "token": "s3cret-token", "preroll_s": 1.5}
    assert done.restart == {"port", "token"} and done.applied == {"preroll_s"}
    assert (station.settings.port, station.settings.token) == (0, None)  # until the restart
    assert station.settings.preroll_s == 1.5
    # the next change builds on what was saved, and still reports what waits
    later = station.settings_service.change({"station_name": "After"}, ACTOR)
    assert later.restart == {"port", "token"} and later.applied == {"station_name"}
    assert _file(config)["token"] == "s3cret-token"
    entries = _entries(station)
    assert [e.target for e in entries] == ["settings station_name",
                                           "settings port, preroll_s, token"]
    assert "s3cret-token" not in station.audit.list().model_dump_json()  # names, never values


def test_invalid_values_are_refused_and_nothing_is_saved_or_changed(station, config):
    before = station.settings
    with pytest.raises(SettingsRefused) as refused:
        station.settings_service.change({"disk_floor_mb": -1, "mqtt_url": "http://broker"},
                                        ACTOR)
    assert set(refused.value.problems) == {"disk_floor_mb", "mqtt_url"}
    assert "mqtt://" in refused.value.problems["mqtt_url"]
    assert not config.exists()
    assert station.settings == before and station.recordings.disk_floor_bytes == 0
    (entry,) = _entries(station)
    assert entry.result == "failed: value_error" and entry.who == "token"
