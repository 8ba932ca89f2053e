"""Motion settings on a site, in this process (#24, docs/scale-out.md): two real stations on one
catalog (SQLite file and PostgreSQL server alike). What is stored in the catalog for a source
without its owner being asked (a station of an older version, a source moved) is taken by
every station after its next heartbeat (`MotionService.refresh`, the site's `on_beat`): the
owner's running analyser at once, the others' caches too. While the owner is away, another
station answers the stored settings with `analysing` "unknown" and the reason, and refuses a
change. The forwarding itself (a change made
on another station passed on to the owner) needs the stations' APIs: tests/e2e/test_site.py."""

from __future__ import annotations

import pytest

from app.errors import Conflict, InvalidInput
from app.models import SourceMotion
from app.schemas import SourceIn
from app.station import start_station, stop_station
from tests.app.test_stations import pair, shared_url  # noqa: F401 (fixtures)
from tests.conftest import TESTSRC, wait_until
from ui.motion.tuner import status_text


def test_settings_stored_behind_the_owners_back_are_taken_after_a_beat(pair):  # noqa: F811
    north, south = pair
    cam = north.sources.create(SourceIn(name="cam-n", uri_rtsp=TESTSRC))
    wait_until(lambda: north.motion.status(cam.id).analysing == "keyframes", 20,
               message="north analyses its source")
    assert south.motion.settings(cam.id).sensitivity == 50  # south's cache: the defaults

    with south.catalog.session() as s:  # written without asking north
        s.add(SourceMotion(source_id=cam.id, settings={"sensitivity": 77, "fps": 2.0}))
    north.site.beat()  # the beat's hooks: readers, then motion settings
    status = north.motion.status(cam.id)
    assert (status.settings.sensitivity, status.settings.fps) == (77, 2.0)  # the analyser's
    assert status.analysing == "keyframes"  # the same analyser, its background kept
    assert south.motion.settings(cam.id).sensitivity == 50  # south has not beaten yet
    south.site.beat()
    assert south.motion.settings(cam.id).sensitivity == 77

    with south.catalog.session() as s:  # detection turned off behind its back: it stops
        s.get(SourceMotion, cam.id).settings = {"sensitivity": 77, "enabled": False}
    north.site.beat()
    wait_until(lambda: north.motion.status(cam.id).analysing == "off", 10,
               message="north stops analysing")
    assert north.motion.settings(cam.id).fps == 5.0  # the row's fps went: the default again


def test_the_owner_away_is_unknown_with_the_stored_settings(pair):  # noqa: F811
    north, south = pair
    cam = south.sources.create(SourceIn(name="cam-s", uri_rtsp=TESTSRC))
    south.motion.change(cam.id, {"sensitivity": 66}, "test")
    stop_station(south)  # a clean stop: offline at once
    north.site.beat()  # north learns who owns the source
    status = north.motion.status(cam.id)
    assert status.analysing == "unknown" and "south" in status.error
    assert status.settings.sensitivity == 66 and not status.active  # the stored settings
    # the zone editor's tuner says so (it said "the main stream's keyframes only")
    assert status_text(status).startswith("not known here") and "south" in status_text(status)
    with pytest.raises(Conflict, match="south"):  # nothing of it changes while it is away
        north.motion.change(cam.id, {"sensitivity": 70}, "test")
    with pytest.raises(InvalidInput):  # a bad value is refused before the owner is looked at
        north.motion.change(cam.id, {"sensitivity": 0}, "test")
    start_station(south)  # the fixture stops it again
