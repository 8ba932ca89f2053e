"""A source that records by itself can still be deleted or given another address: the
operator's change wins over its mode (the mode's own records end; a client's still refuse)."""

from __future__ import annotations

import pytest

from app.errors import Conflict
from app.schemas import SourceIn
from tests.conftest import TESTSRC, wait_until

OTHER = "testsrc://smptebars?size=320x240&rate=25&gop=1"


def _running(station, source_id: int) -> dict[str, str]:
    return {r.tag_name: r.id for r in station.recordings.own_running()
            if r.source and r.source.id == source_id}


def _written(station, source_id: int, packets: int = 10) -> bool:
    """The source's recordings have packets in them (a record stopped before its first
    keyframe is `failed`, not `finished`)."""
    counters = station.recorder.counters().get(source_id)
    return counters is not None and counters.packets_written >= packets


def test_a_continuous_source_is_deleted_and_its_record_finished(station):
    src = station.sources.create(SourceIn(name="gone", uri_rtsp=TESTSRC, record_mode="continuous"))
    record_id = wait_until(lambda: _running(station, src.id).get("continuous"), 10,
                           message="the continuous recording")
    wait_until(lambda: _written(station, src.id), 10, message="packets in the file")
    station.sources.delete(src.id)
    assert station.recordings.get(record_id).status == "finished"
    assert not _running(station, src.id)


def test_a_new_address_restarts_the_mode_and_a_client_record_still_refuses(station):
    src = station.sources.create(SourceIn(name="moved", uri_rtsp=TESTSRC,
                                          record_mode="continuous"))
    first = wait_until(lambda: _running(station, src.id).get("continuous"), 10,
                       message="the continuous recording")
    wait_until(lambda: _written(station, src.id), 10, message="packets in the file")
    station.sources.update(src.id, SourceIn(name="renamed"))  # a rename does not cut it
    assert _running(station, src.id) == {"continuous": first}
    station.sources.update(src.id, SourceIn(uri_rtsp=OTHER))
    assert station.recordings.get(first).status == "finished"
    again = wait_until(lambda: _running(station, src.id).get("continuous"), 10,
                       message="the mode recording at the new address")
    assert again != first

    station.recordings.start_one("visit", src.id)  # a client's record refuses the change
    with pytest.raises(Conflict):
        station.sources.update(src.id, SourceIn(uri_rtsp=TESTSRC))
    with pytest.raises(Conflict):
        station.sources.delete(src.id)
    assert set(_running(station, src.id)) == {"continuous", "visit"}
    assert station.sources.get(src.id).record_mode == "continuous"  # a refused delete changes nothing
