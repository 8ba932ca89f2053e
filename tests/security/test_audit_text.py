"""The audit trail's text, against a real station process (#21 item 10): requests without
credentials (and with them) try to write their own text into the trail through the ids of a
route's path and the names of a body: a right-to-left override that turns `source 7` into
something else on screen, zero-width characters, commas and quotes imitating other targets,
line breaks. An id is listed only when it has its kind's shape; a name is quoted; format
characters are gone."""

from __future__ import annotations

import json
import unicodedata

import pytest

from app.services.audit import ACTIONS
from tests.security.conftest import TOKEN
from tests.support.raw_http import send_raw
from tests.support.station_process import StationProcess

RLO, ZWSP, ZWJ, BOM, LRI = "\u202e", "\u200b", "\u200d", "\ufeff", "\u2066"




def send(st: StationProcess, method: str, target: str, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> int:
    return send_raw(st.host, st.port, method, target, headers, body)


def trail(st: StationProcess) -> list[dict]:
    status, page, _ = st.call("GET", "/api/v1/audit?page_size=500", token=TOKEN)
    assert status == 200, page
    return page["items"]


def no_format_characters(entry: dict) -> None:
    for key, value in entry.items():
        if isinstance(value, str):
            assert not any(unicodedata.category(ch) in ("Cf", "Cc", "Zl", "Zp") for ch in value), \
                (key, value)


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("audit-text")
    with StationProcess(tmp, env={"RS_TOKEN": TOKEN, "RS_HUAWEI_AK": "AKTEST0123456789",
                                  "RS_HUAWEI_SK": "sk-secret-0123456789"}) as st:
        yield st


def test_unauthenticated_requests_cannot_write_their_text_into_the_trail(station):
    st = station
    forged_ids = [
        "7%E2%80%AE9",                       # RLO: "7" then the rest shown reversed
        "7,%20source%202",                   # a comma imitating a second target
        "7%22,%20tag%20%22lobby",            # quotes imitating a quoted name
        "%E2%80%8B7",                        # a zero-width space before the id
        "7%EF%BB%BF", "7%E2%81%A6x",         # BOM, an isolate
        "7%0Asource%208", "7%C2%85x", "7%E2%80%A8x",
        "x" * 300,
    ]
    for forged in forged_ids:
        assert send(st, "DELETE", f"/api/v1/source/{forged}") == 401
        assert send(st, "DELETE", f"/api/v1/group/{forged}/source/3") == 401
        assert send(st, "DELETE", f"/api/v1/record/{forged}") == 401
        assert send(st, "PUT", f"/api/v1/upload/{forged}",
                    {"Content-Type": "application/octet-stream"}, b"x") == 401
    # Huawei: ids in the path of the Live and RTC routes, unsigned
    for forged in ("p%E2%80%AE1", "p,%20source%202"):
        send(st, "POST", f"/v1/{forged}/record/control?action=START",
             {"Content-Type": "application/json"}, b'{"app": "a", "stream": "s"}')
        send(st, "DELETE", f"/v2/apps/{forged}/individual-stream-jobs/j1")
    entries = [e for e in trail(st) if e["who"] == "anonymous"]
    assert len(entries) >= 4 * len(forged_ids), len(entries)
    for entry in entries:
        no_format_characters(entry)
        assert entry["result"] == "401"
        target = entry["target"] or ""
        # a name of the vocabulary; in detail the route's pattern, or no route at all: never
        # the concrete path
        assert entry["action"] in ACTIONS, entry
        assert "{" in entry["detail"] or entry["detail"].endswith(" (no such route)"), entry
        assert "lobby" not in entry["detail"] and "x" * 20 not in entry["detail"]
        assert "source 2" not in target and "source 8" not in target and "lobby" not in target
        assert "x" * 20 not in target
        for part in target.split(", ") if target else ():
            word, _, value = part.partition(" ")
            assert word in ("source", "group", "record", "upload", "project", "app", "job"), entry
            assert value == "(not an id)" or value.isdigit() or value.isalnum(), entry
    # a well-formed id is still named; the action is the route's name, detail its pattern
    assert send(st, "DELETE", "/api/v1/source/12") == 401
    assert send(st, "DELETE", "/api/v1/group/4/source/5") == 401
    assert send(st, "PUT", "/api/v1/upload/abc-123_x", {"Content-Type": "application/octet-stream"},
                b"x") == 401
    newest = trail(st)[:3]
    assert [(e["action"], e["detail"], e["target"]) for e in newest] == [
        ("receive upload", "PUT /api/v1/upload/{upload_id}", "upload abc-123_x"),
        ("remove source from group", "DELETE /api/v1/group/{group_id}/source/{source_id}",
         "group 4, source 5"),
        ("delete source", "DELETE /api/v1/source/{source_id}", "source 12")]


def test_names_in_bodies_are_quoted_and_stripped_of_format_characters(station):
    st = station
    names = [f"lobby{RLO}7 ecruos", "hall, source 2", 'hall", source "2', f"{ZWSP}door{ZWJ}",
             f"gate{BOM}{LRI}x", "yard\u2028, group 9", "a\\", "x" * 300]
    for name in names:
        status, body, _ = st.call("POST", "/api/v1/group", {"name": name}, token=TOKEN)
        assert status in (200, 422), body
    entries = [e for e in trail(st) if e["action"] == "create group"][:len(names)]
    assert len(entries) == len(names)
    for entry, name in zip(reversed(entries), names):
        no_format_characters(entry)
        target = entry["target"]
        word, _, value = target.partition(" ")
        assert word == "name" and value.startswith('"') and value.endswith('"'), target
        shown = json.loads(value)  # one quoted string: a comma or quote inside imitates nothing
        expected = "".join(ch for ch in name if unicodedata.category(ch) != "Cf")
        expected = expected.replace("\u2028", "?")
        assert shown == expected if len(expected) <= 64 else shown == expected[:63] + "…", \
            (target, name)
