"""Bookmarks against a real station process (#21 item 11): moments outside a sane range
(year 1, year 9999, NaN, a day ahead), oversized or control-laden titles and notes, more
bookmarks than the caps allow, and answers that would carry thousands of long notes. Rows
the API would refuse are also written straight into the catalog (as an older version or
another station of a shared catalog could have left them): exporting around them is a 422,
never a 500, and the timeline's answer stays bounded."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from app.recordings.timeline import TimelineOut
from tests.support.station_process import StationProcess

PATTERN = "testsrc://?size=160x120&rate=5"
PER_SOURCE, TOTAL = 3, 5


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bookmarks")
    with StationProcess(tmp, env={"RS_MAX_BOOKMARKS_PER_SOURCE": str(PER_SOURCE),
                                  "RS_MAX_BOOKMARKS": str(TOTAL)}) as st:
        yield st


def _source(st: StationProcess, name: str) -> int:
    status, body, _ = st.call("POST", "/api/v1/source", {"name": name, "uri_rtsp": PATTERN})
    assert status == 200, body
    return body["id"]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _fields(body) -> list[str]:
    return [d["loc"][-1] for d in body["detail"]]


def _insert(st: StationProcess, rows: list[tuple]) -> list[int]:
    """Rows straight into the catalog: (source_id, time as stored, title, note)."""
    with sqlite3.connect(st.data_dir / "catalog.sqlite3", timeout=30) as db:
        ids = []
        for source_id, moment, title, note in rows:
            cur = db.execute("INSERT INTO bookmark (created_utc, source_id, source_name, time_utc,"
                             " title, note) VALUES (?, ?, 'cam', ?, ?, ?)",
                             ("2026-01-01 00:00:00.000000", source_id, moment, title, note))
            ids.append(cur.lastrowid)
    return ids


def test_moments_outside_a_sane_range_are_422(station):
    st = station
    sid = _source(st, "dates")
    now = datetime.now(timezone.utc)
    for moment in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00",
                   "1999-12-31T23:59:59Z", _iso(now + timedelta(days=2)), "NaN", "inf",
                   "+10000-01-01T00:00:00Z", 1e20, 253402300800, -1, "2026-13-45T99:99:99Z"):
        status, body, _ = st.call("POST", "/api/v1/bookmark",
                                  {"source_id": sid, "time_utc": moment, "title": "t"})
        assert status == 422 and "time_utc" in _fields(body), (moment, status, body)
    # a JSON NaN (Python's json writes it bare) is refused the same way
    status, body, _ = st.request("POST", "/api/v1/bookmark", body=(
        b'{"source_id": %d, "time_utc": NaN, "title": "t"}' % sid),
        headers={"Content-Type": "application/json"})
    assert status == 422, body
    # a moment in range is taken, and moving it out of range is refused too
    status, mark, _ = st.call("POST", "/api/v1/bookmark",
                              {"source_id": sid, "time_utc": _iso(now), "title": "ok"})
    assert status == 200, mark
    for moment in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00"):
        status, body, _ = st.call("PUT", f"/api/v1/bookmark/{mark['id']}", {"time_utc": moment})
        assert status == 422 and "time_utc" in _fields(body), (moment, body)
    assert st.call("GET", f"/api/v1/bookmark/{mark['id']}")[1]["time_utc"] == mark["time_utc"]
    # searching and drawing the timeline at the ends of the calendar: 422, not 500
    for begin, expected in (("0001-01-01T00:00:00%2B01:00", 422), ("0001-01-01T00:00:00Z", 200)):
        status, body, _ = st.call("GET", f"/api/v1/bookmark?begin={begin}")
        assert status == expected, (begin, status, body)
        status, body, _ = st.call(
            "GET", f"/api/v1/source/{sid}/timeline?begin={begin}&end=0001-01-02T00:00:00Z")
        assert status == expected, (begin, status, body)
    assert st.call("DELETE", f"/api/v1/bookmark/{mark['id']}")[0] == 200
    assert "Traceback" not in st.log_text()


def test_exporting_around_a_moment_at_the_end_of_the_calendar_is_422(station):
    st = station
    sid = _source(st, "calendar-ends")
    ids = _insert(st, [(sid, "9999-12-31 23:59:59.000000", "last", None),
                       (sid, "0001-01-01 00:00:00.000000", "first", None)])
    for bid in ids:
        for query in ("", "?before_s=0&after_s=0", "?before_s=43200&after_s=43200"):
            status, body, _ = st.call("GET", f"/api/v1/bookmark/{bid}/export{query}")
            assert status in (404, 422) and status != 500, (bid, query, status, body)
            if query == "":
                assert status == 422 and "bookmark_id" in _fields(body), body
        status, body, _ = st.call("GET", f"/api/v1/bookmark/{bid}")  # still readable
        assert status == 200, body
        assert st.call("DELETE", f"/api/v1/bookmark/{bid}")[0] == 200
    assert "Traceback" not in st.log_text()


def test_titles_and_notes_are_bounded_and_printable(station):
    st = station
    sid = _source(st, "texts")
    now = _iso(datetime.now(timezone.utc))
    for fields, field in (({"title": "x" * 256}, "title"), ({"title": ""}, "title"),
                          ({"title": "t", "note": "n" * 4097}, "note"),
                          ({"title": "t", "note": "\U0001f600" * 4097}, "note"),
                          ({"title": "a\nforged"}, "title"), ({"title": "a\x1b[31m"}, "title"),
                          ({"title": "a\x85b"}, "title"),
                          ({"title": "t", "note": "bell\x07"}, "note"),
                          ({"title": "t", "note": "nul\x00"}, "note")):
        status, body, _ = st.call("POST", "/api/v1/bookmark",
                                  {"source_id": sid, "time_utc": now, **fields})
        assert status == 422 and field in _fields(body), (fields, status, body)
    # a note may hold line breaks and tabs; the longest note and title are taken
    status, mark, _ = st.call("POST", "/api/v1/bookmark", {
        "source_id": sid, "time_utc": now, "title": "t" * 255, "note": "line\n\tnext" + "n" * 4086})
    assert status == 200, mark
    assert st.call("DELETE", f"/api/v1/bookmark/{mark['id']}")[0] == 200


def test_bookmarks_are_capped_per_source_and_in_all(station):
    st = station
    now = datetime.now(timezone.utc)
    with sqlite3.connect(st.data_dir / "catalog.sqlite3", timeout=30) as db:
        assert db.execute("SELECT count(*) FROM bookmark").fetchone()[0] == 0  # earlier tests
    first, second, third = (_source(st, f"capped-{i}") for i in range(3))

    def mark(sid: int, i: int):
        return st.call("POST", "/api/v1/bookmark", {"source_id": sid, "title": f"m{i}",
                                                    "time_utc": _iso(now - timedelta(seconds=i))})
    made = []
    for i in range(PER_SOURCE):
        status, body, _ = mark(first, i)
        assert status == 200, body
        made.append(body["id"])
    status, body, _ = mark(first, 99)  # one too many for this source
    assert status == 422 and _fields(body) == ["max_bookmarks_per_source"], body
    for i in range(TOTAL - PER_SOURCE):
        assert mark(second, i)[0] == 200
    status, body, _ = mark(third, 0)  # one too many in all
    assert status == 422 and _fields(body) == ["max_bookmarks"], body
    # moving a bookmark onto a full source is refused as creating one there would be
    status, body, _ = st.call("PUT", f"/api/v1/bookmark/{made[0]}", {"source_id": second})
    assert status == 200, body  # second holds 2 < 3
    status, body, _ = st.call("PUT", f"/api/v1/bookmark/{made[1]}", {"source_id": second})
    assert status == 422 and _fields(body) == ["max_bookmarks_per_source"], body
    # a deleted one makes room again
    assert st.call("DELETE", f"/api/v1/bookmark/{made[2]}")[0] == 200
    assert mark(third, 0)[0] == 200
    _, listed, _ = st.call("GET", "/api/v1/bookmark")
    for item in listed:
        assert st.call("DELETE", f"/api/v1/bookmark/{item['id']}")[0] == 200


def test_answers_are_bounded_whatever_the_catalog_holds(station):
    """The review's 3,000 bookmarks with 4 KiB notes (12.8 MB in one timeline answer),
    written past the caps straight into the catalog."""
    st = station
    sid = _source(st, "crowded")
    base = datetime.now(timezone.utc) - timedelta(hours=2)
    note = "n" * 4096
    _insert(st, [(sid, (base + timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S.%f"),
                  f"mark {i}", note) for i in range(3000)])
    begin, end = quote(_iso(base - timedelta(minutes=1))), quote(_iso(base + timedelta(hours=1)))
    status, raw, _ = st.request("GET", f"/api/v1/source/{sid}/timeline?begin={begin}&end={end}")
    assert status == 200
    assert len(raw) < 1.2 * (1 << 20), len(raw)
    spans = TimelineOut.model_validate_json(raw)  # the answer has the schema's shape
    assert spans.bookmarks_truncated is True and 0 < len(spans.bookmarks) <= 500
    assert [b.title for b in spans.bookmarks[:2]] == ["mark 0", "mark 1"]  # the first ones
    # a short range with few bookmarks is answered whole, and says so
    short_end = quote(_iso(base + timedelta(seconds=10)))
    status, spans, _ = st.call("GET", f"/api/v1/source/{sid}/timeline?begin={begin}&end={short_end}")
    assert status == 200 and len(spans["bookmarks"]) == 10 and spans["bookmarks_truncated"] is False
    # the list answers at most 1000, or `limit`
    status, raw, _ = st.request("GET", f"/api/v1/bookmark?source_id={sid}")
    assert status == 200 and len(json.loads(raw)) == 1000
    status, listed, _ = st.call("GET", f"/api/v1/bookmark?source_id={sid}&limit=5")
    assert status == 200 and [b["title"] for b in listed] == [f"mark {i}" for i in range(5)]
    assert st.call("GET", "/api/v1/bookmark?limit=1001")[0] == 422
    # the OpenAPI schema says so
    _, schema, _ = st.call("GET", "/api/openapi.json")
    text = json.dumps(schema)
    assert "bookmarks_truncated" in text and "max_bookmarks_per_source" in text
