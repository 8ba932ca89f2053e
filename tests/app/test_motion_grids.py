"""Motion grids and search (#28) on the scripted halves scene (tests/support/halves_scene.py):
a box walks through the picture's left half at 2-5 s, another through its right half at
9-12 s. The clip is decoded as the recorder's analysis slot hands pictures over and fed to
real analyser threads (real detector, real tracker) whose grids go to the station's real
store and catalog (SQLite and PostgreSQL); search, heat map, a mask, a restart and retention
are checked on what was stored.

No wall-clock waits: each picture is put into the analyser's slot once the previous one was
analysed (its `analysed` counter); the clip's second t is stamped wall time BASE + t."""

from __future__ import annotations

import functools
import math
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from app.errors import InvalidInput, NotFound
from app.models import Record
from app.motion.analyser import SourceAnalyser
from app.motion_search import GRID_COLS, GRID_ROWS
from app.motion_search.grids import StoredMinute, pack
from app.recordings.storage import StorageService
from app.station import build_station
from recorder.analysis import AnalysisSlot
from tests.conftest import backend_url, make_settings, wait_until
from tests.support.halves_scene import HalvesScene
from tests.support.placed_records import place_record, quiet_source
from tests.support.scenes import analysis_pictures
from vision.settings import MotionSettings

SCENE = HalvesScene()
BASE = datetime(2026, 12, 1, 10, 0, 0, tzinfo=timezone.utc)  # the clip's second 0
LEFT, RIGHT = (0.0, 0.0, 0.5, 1.0), (0.5, 0.0, 1.0, 1.0)
NOTHING = (0.0, 0.0, 1.0, 0.2)  # the top fifth: the boxes walk the middle rows
LEFT_MASK = {"name": "", "kind": "exclude", "points": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}


@functools.cache
def pictures() -> tuple:
    """The scene's clip decoded as the analysis slot gets it (5 pictures a second), once."""
    return tuple(analysis_pictures(SCENE.clip(), fps=5))


def feed(station, source_id: int, settings: MotionSettings) -> None:
    """The scene through a real analyser of `source_id` into the station's grid store."""
    slot = AnalysisSlot("preview", 5.0)
    analyser = SourceAnalyser(source_id, slot, settings, lambda *change: None,
                              station.motion_grids.add)
    analyser.start()
    try:
        for count, (t, grey, colour) in enumerate(pictures(), 1):
            slot.put(grey, colour, t, BASE.timestamp() + t)
            wait_until(lambda: analyser.analysed >= count, 10, 0.002, "the picture analysed")
    finally:
        analyser.stop()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def scene(request, tmp_path_factory):
    """A station (built, not started: no readers) whose sources `plain` and `masked` (the
    left half masked out) saw the scene, grids stored, and a record of each over the clip.
    Shared by the module's tests: none changes what another reads."""
    folder = tmp_path_factory.mktemp("grids")
    url = backend_url(request, request.param)
    station = build_station(make_settings(folder, database_url=url))
    plain, masked = quiet_source(station, "plain"), quiet_source(station, "masked")
    feed(station, plain, MotionSettings())
    feed(station, masked, MotionSettings.from_dict({"zones": [LEFT_MASK]}))
    assert station.motion_grids.flush() == 2  # one busy minute each
    records = {sid: place_record(station, folder, sid, "scene", BASE, seconds=SCENE.seconds)
               for sid in (plain, masked)}
    yield station, plain, masked, records, folder
    station.catalog.close()


def at(seconds: float) -> datetime:
    return BASE + timedelta(seconds=seconds)


def test_a_region_finds_the_motion_in_it_at_its_time(scene):
    station, plain, _, records, _ = scene
    search = station.motion_search.search
    (left,) = search([plain], at(0), at(60), [LEFT])
    (right,) = search([plain], at(0), at(60), [RIGHT])
    assert search([plain], at(0), at(60), [NOTHING]) == []
    # the box shows in the left half from 2 s to 5 s, in the right from 9 s to 12 s
    assert (left.begin, left.end) == (at(SCENE.left[0]), at(SCENE.left[1] + 1))
    assert (right.begin, right.end) == (at(SCENE.right[0]), at(SCENE.right[1] + 1))
    assert left.record_ids == right.record_ids == (records[plain],)
    assert 0 < left.peak < 0.2 and 0 < right.peak < 0.2  # a small box in half the picture
    # both halves: two hits 4 s apart, one once they may merge; a range cuts a hit
    both = search([plain], at(0), at(60), [LEFT, RIGHT], merge_s=2)
    assert [(h.begin, h.end) for h in both] == [(left.begin, left.end), (right.begin, right.end)]
    (merged,) = search([plain], at(0), at(60), [LEFT, RIGHT], merge_s=5)
    assert (merged.begin, merged.end) == (left.begin, right.end)
    (cut,) = search([plain], at(3), at(4), [LEFT])
    assert (cut.begin, cut.end) == (at(3), at(4))
    assert search([plain], at(0), at(60), [LEFT], min_cells=GRID_COLS * GRID_ROWS) == []

    heat = station.motion_search.heatmap(plain, at(0), at(60))
    counts = np.array(heat.counts)
    assert counts.shape == (GRID_ROWS, GRID_COLS) == (heat.rows, heat.cols)
    assert counts[:, :14].sum() > 0 and counts[:, 18:].sum() > 0
    assert counts[:, 14:18].sum() == 0 and counts[:4].sum() == 0  # the middle, the top
    assert counts.max() <= 4  # a cell is crossed within ~4 s of its second
    png = station.motion_search.heatmap_png(plain, at(0), at(60))
    assert png.startswith(b"\x89PNG\r\n\x1a\n")


def test_a_mask_keeps_its_area_out_of_the_grids(scene):
    station, _, masked, _, _ = scene
    search = station.motion_search.search
    assert search([masked], at(0), at(60), [LEFT]) == []
    (right,) = search([masked], at(0), at(60), [RIGHT])
    assert right.begin == at(SCENE.right[0])
    assert np.array(station.motion_search.heatmap(masked, at(0), at(60)).counts)[:, :16].sum() == 0


def test_grids_survive_a_restart_and_follow_retention(scene):
    station, plain, masked, records, folder = scene
    before = station.motion_search.search([plain, masked], at(0), at(60), [RIGHT])
    assert [h.source_id for h in before] == [plain, masked]  # same second: by source
    again = build_station(make_settings(folder, database_url=station.catalog.url))
    try:
        assert again.motion_search.search([plain, masked], at(0), at(60), [RIGHT]) == before
    finally:
        again.catalog.close()

    # Eight days later, retention keeping 7: `gone` (the scene's grids, its record not
    # protected) loses both; `kept` (its record protected) keeps both; `bare` (no footage)
    # keeps its grids of 3 days ago, not those of 9. The scene's own records are protected.
    now = BASE + timedelta(days=8)
    stored = station.motion_grids.read(plain, int(BASE.timestamp()), int(at(60).timestamp()))
    gone, kept, bare = (quiet_source(station, name) for name in ("gone", "kept", "bare"))
    early, late = (np.zeros((60, GRID_ROWS, GRID_COLS), bool) for _ in range(2))
    early[7, 9, 9] = late[30, 0, 0] = True
    recent, old = (int((now - timedelta(days=d)).timestamp()) // 60 * 60 for d in (3, 9))
    station.motion_grids.insert(
        [StoredMinute(sid, m.minute_s, m.seconds, m.cells) for sid in (gone, kept) for m in stored]
        + [StoredMinute(bare, old, *pack(early)), StoredMinute(bare, recent, *pack(early))])
    station.motion_grids.merge([StoredMinute(bare, recent, *pack(late))])  # ORed into its row
    gone_record = place_record(station, station.settings.recordings_dir, gone, "scene", BASE, seconds=SCENE.seconds)
    kept_record = place_record(station, station.settings.recordings_dir, kept, "scene", BASE, seconds=SCENE.seconds)
    with station.catalog.session() as s:
        for record_id in (*records.values(), kept_record):
            s.get(Record, record_id).protected = True
    storage = StorageService(station.catalog, station.recordings, station.bus,
                             storage_dir=station.settings.recordings_dir, retention_days=7,
                             now=lambda: now, prune_grids=station.motion_grids.prune)
    assert storage.retention_pass() == [gone_record]
    search = station.motion_search.search
    assert search([gone], at(0), at(60), [RIGHT]) == [], "its grids went with its footage"
    assert search([kept], at(0), at(60), [RIGHT]) != [], "kept as long as its footage"
    assert search([plain], at(0), at(60), [RIGHT]) == before[:1]
    assert [h.begin.timestamp() for h in search([bare], now - timedelta(days=10), now,
                                                [(0, 0, 1, 1)], merge_s=0)] == [recent + 7, recent + 30]


def test_hostile_input_is_refused_with_its_field(scene):
    station, plain, _, _, _ = scene
    search = station.motion_search.search
    cases = [
        (dict(regions=[(math.nan, 0, 1, 1)]), "region"),
        (dict(regions=[(0, 0, 1.5, 1)]), "region"),
        (dict(regions=[(-0.1, 0, 1, 1)]), "region"),
        (dict(regions=[(0.5, 0, 0.5, 1)]), "region"),
        (dict(regions=[(0, 0, 1)]), "region"),
        (dict(regions=[]), "region"),
        (dict(regions=[LEFT] * 17), "region"),
        (dict(end=at(0)), "end"),
        (dict(end=at(0) - timedelta(seconds=1)), "end"),
        (dict(end=at(0) + timedelta(days=367)), "end"),
        (dict(min_cells=0), "min_cells"),
        (dict(merge_s=math.inf), "merge_s"),
        (dict(merge_s=3601), "merge_s"),
        (dict(source_ids=[]), "source_id"),
        (dict(source_ids=list(range(1, 66))), "source_id"),
    ]
    for change, field in cases:
        args = dict(source_ids=[plain], begin=at(0), end=at(60), regions=[LEFT])
        args.update(change)
        kwargs = {k: args.pop(k) for k in ("min_cells", "merge_s") if k in args}
        with pytest.raises(InvalidInput) as refused:
            search(args["source_ids"], args["begin"], args["end"], args["regions"], **kwargs)
        assert refused.value.field == field, change
    with pytest.raises(NotFound):
        search([plain + 1000], at(0), at(60), [LEFT])
    with pytest.raises(InvalidInput):
        station.motion_search.heatmap(plain, at(0), at(0) + timedelta(days=400))
