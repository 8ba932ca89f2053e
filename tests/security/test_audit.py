"""The audit trail against a real station process: every state change through the native API
is listed at `GET /api/v1/audit` (token-protected, paged) with who, from where, what (a name of
the one vocabulary, the method and route in `detail`), on which target and the result — and
the station token never shows up in it, however it was sent."""

from __future__ import annotations

import json
import re

from tests.security.conftest import TOKEN
from tests.support.station_process import StationProcess

PATTERN = "testsrc://?size=160x120&rate=5"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def _audit(station, query: str = "", token: str | None = TOKEN):
    """The API's entries (`dialect=native`): not the station's own first-start entry
    (`create user` admin, dialect `local`)."""
    query = query + ("&" if query else "?") + "dialect=native"
    status, raw, headers = station.request(
        "GET", "/api/v1/audit" + query,
        headers={"Authorization": f"Bearer {token}"} if token else {})
    return status, raw, headers


def test_state_changes_are_audited_without_the_token(token_station):
    st = token_station
    status, created, _ = st.call("POST", "/api/v1/source", {"name": "cam-a", "uri_rtsp": PATTERN},
                                 token=TOKEN)
    assert status == 200, created
    # the same name again: refused (422) after authentication, still a state change asked for
    status, refused, _ = st.call("POST", "/api/v1/source", {"name": "cam-a", "uri_rtsp": PATTERN},
                                 token=TOKEN)
    assert status == 422, refused
    # the token in the query string and in X-Auth-Token: neither may reach the trail
    status, _, _ = st.call("DELETE", f"/api/v1/source/{created['id']}?accessToken={TOKEN}")
    assert status == 200
    status, _, _ = st.call("POST", "/api/v1/group", {"name": "lobby"},
                           headers={"X-Auth-Token": TOKEN})
    assert status == 200
    assert st.call("GET", "/api/v1/source", token=TOKEN)[0] == 200  # a read: not audited

    status, raw, headers = _audit(st)
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    # (the TOKEN constant begins with the `station-token` label itself: look for its secret tail)
    assert TOKEN.encode() not in raw and TOKEN[-10:].encode() not in raw
    page = json.loads(raw)
    assert page["page"] == 1 and page["total"] == len(page["items"]) == 4
    items = page["items"]
    assert [i["id"] for i in items] == sorted((i["id"] for i in items), reverse=True)
    for item in items:
        assert item["dialect"] == "native" and item["address"] == "127.0.0.1"
        assert item["who"] == "station-token"
        assert ISO.match(item["time"])
        assert not item["action"].startswith("GET")
    group, delete, failed, ok = items
    assert (ok["action"], ok["detail"], ok["result"]) == (
        "create source", "POST /api/v1/source", "200")
    assert (failed["action"], failed["detail"], failed["result"]) == (
        "create source", "POST /api/v1/source", "422")
    assert "cam-a" in ok["target"] and "cam-a" in failed["target"]
    assert (delete["action"], delete["detail"], delete["result"]) == (
        "delete source", "DELETE /api/v1/source/{source_id}", "200")
    assert (group["action"], group["detail"]) == ("create group", "POST /api/v1/group")
    assert str(created["id"]) in delete["target"]
    assert "lobby" in group["target"] and group["result"] == "200"

    # paged; a cursor; a filter
    status, raw, _ = _audit(st, "?page_size=1&page=2")
    second = json.loads(raw)
    assert status == 200 and second["total"] == 4 and second["page_size"] == 1
    assert [i["id"] for i in second["items"]] == [delete["id"]]
    below = json.loads(_audit(st, f"?before_id={failed['id']}")[1])
    assert [i["id"] for i in below["items"]] == [ok["id"]]
    deletes = json.loads(_audit(st, "?action=delete%20source")[1])
    assert [i["id"] for i in deletes["items"]] == [delete["id"]]
    creates = json.loads(_audit(st, "?action=create%20source")[1])
    assert [i["id"] for i in creates["items"]] == [failed["id"], ok["id"]]
    assert _audit(st, "?action=DELETE")[0] == 422  # a name of the vocabulary, not a method
    assert _audit(st, "?page=0")[0] == 422
    assert _audit(st, "?page_size=100000")[0] == 422

    # token-protected like the rest of the native API
    assert _audit(st, token=None)[0] == 401
    assert _audit(st, token="wrong-" + TOKEN)[0] == 401
    assert TOKEN not in st.log_text()

    # a state change tried with a wrong token is in the trail too (a read is not), without it
    guess = "guessed-credential-4711"
    assert st.call("DELETE", "/api/v1/source/1", token=guess)[0] == 401
    status, raw, _ = _audit(st)
    assert guess.encode() not in raw
    tried = json.loads(raw)["items"][0]
    assert (tried["action"], tried["detail"], tried["result"], tried["who"], tried["address"]) == (
        "delete source", "DELETE /api/v1/source/{source_id}", "401", "anonymous", "127.0.0.1")
    assert json.loads(raw)["total"] == 5


def test_an_open_station_names_its_callers_open_and_keeps_the_trail(open_station, tmp_path):
    st = open_station
    status, body, _ = st.call("POST", "/api/v1/group", {"name": "hall"})
    assert status == 200, body
    status, page, _ = st.call("GET", "/api/v1/audit?dialect=native")
    assert status == 200
    [entry] = page["items"]
    assert (entry["dialect"], entry["address"], entry["who"], entry["action"], entry["result"]) == (
        "native", "127.0.0.1", "open", "create group", "200")
    assert "hall" in entry["target"]
    # the last change before a stop is written on the way down and is there after a restart
    group_id = body[0]["id"]  # POST /group answers a list (the seed's shape)
    assert st.call("DELETE", f"/api/v1/group/{group_id}")[0] == 200
    st.stop()
    with StationProcess(tmp_path, name="open") as again:
        status, page, _ = again.call("GET", "/api/v1/audit?dialect=native")
        assert status == 200 and page["total"] == 2
        assert [e["action"] for e in page["items"]] == ["delete group", "create group"]
