"""Forged log lines, against a real station process (#21 item 9): a request path, a query,
a header or a name that carries a line break (CR, LF, NEL U+0085, U+2028, U+2029, a vertical
tab, a form feed ...) must not start a line of the log; every such character is written as
its escape. The attacks come with and without credentials, on every dialect."""

from __future__ import annotations

import logging
import re
import sys

import pytest

from app.redaction import OneLineFormatter, escaped
from tests.security.conftest import TOKEN
from tests.support.raw_http import send_raw
from tests.support.station_process import StationProcess

FORGED = "FORGED-4711"
# Percent-encoded line breaks and look-alikes a log viewer or collector may split at.
BREAKS = {"%0A": "\\n", "%0D": "\\r", "%0D%0A": "\\r\\n", "%C2%85": "\\x85",
          "%E2%80%A8": "\\u2028", "%E2%80%A9": "\\u2029", "%0B": "\\x0b", "%0C": "\\x0c",
          "%1C": "\\x1c", "%1E": "\\x1e", "%1B%5B2K%0D": "\\x1b[2K\\r"}
LINE_START = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ \S+: |API: |\s)")




def send(st: StationProcess, method: str, target: str, headers: dict[str, str] | None = None,
         body: bytes | None = None) -> int:
    return send_raw(st.host, st.port, method, target, headers, body)


def forged_lines(log: str) -> list[str]:
    """Lines with the attacker's marker (split at every break Python knows: NEL and U+2028
    too) that the station did not start: neither its time stamp nor an indented
    continuation. (FFmpeg's own lines on stderr never carry the marker.)"""
    return [line for line in log.splitlines() if FORGED in line and not LINE_START.match(line)]


@pytest.fixture(scope="module")
def station(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("logs")
    with StationProcess(tmp, env={"RS_TOKEN": TOKEN, "RS_HUAWEI_AK": "AKTEST0123456789",
                                  "RS_HUAWEI_SK": "sk-secret-0123456789"}) as st:
        yield st


def test_line_breaks_in_paths_and_queries_never_start_a_line(station):
    st = station
    line = f"2026-01-01 00:00:00,000 WARNING api.security: {FORGED} auth refused"
    forged = line.replace(" ", "%20")
    for brk, shown in BREAKS.items():
        # refused (401) native requests: the guard's log line and the access log
        assert send(st, "GET", f"/api/v1/source{brk}{forged}") in (401, 429)
        assert send(st, "DELETE", f"/api/v1/source/1{brk}{forged}") in (401, 429)
        assert send(st, "GET", f"/api/v1/source?name=x{brk}{forged}&{brk}{forged}=1") in (401, 429)
        # authenticated: an unknown route, a query value
        assert send(st, "GET", f"/api/v1/nosuch{brk}{forged}",
                    {"Authorization": f"Bearer {TOKEN}"}) == 404
        assert send(st, "GET", f"/api/v1/source?x={brk}{forged}",
                    {"Authorization": f"Bearer {TOKEN}"}) == 200
        # the Huawei dialects and Device Connect
        assert send(st, "POST", f"/v1/p{brk}{forged}/record/control?action=START",
                    {"Content-Type": "application/json"}, b"{}") in (400, 401, 404, 429)
        assert send(st, "GET", f"/v2/apps/a{brk}{forged}/individual-stream-jobs/j") in (401, 404, 429)
        assert send(st, "GET", f"/gotapi/servicediscovery?accessToken=x{brk}{forged}") == 200
    log = st.log_text()
    assert forged_lines(log) == [], forged_lines(log)[:5]
    assert FORGED in log  # logged, escaped
    assert "%0A2026-01-01" in log and "%E2%80%A8" in log  # the access log: percent-encoded
    for line in log.splitlines():  # a forged line never starts after an escape-less break
        assert not line.startswith("2026-01-01 00:00:00,000"), line


def test_headers_and_names_are_escaped_too(station):
    st = station
    # header values may carry obs-text (bytes 0x80-0xFF): NEL and U+2028 as UTF-8
    for value in ("a\xc2\x85" + FORGED, "a\xe2\x80\xa8" + FORGED, 'a" 200 0 0.0s rid=' + FORGED):
        for name in ("X-Request-Id", "Origin", "Host", "User-Agent", "Sec-Fetch-Site"):
            send(st, "POST", "/api/v1/group", {name: value, "Content-Type": "application/json"},
                 b'{"name": "g"}')
    # names a client chooses, logged as the station works with them
    for brk in ("\n", "\r", "\x85", "\u2028", "\u202e"):
        status, body, _ = st.call("POST", "/api/v1/source", {
            "name": f"cam{brk}{FORGED} {brk}", "uri_rtsp": "rtsp://127.0.0.1:9/x"}, token=TOKEN)
        assert status in (200, 422), body
        st.call("POST", "/api/v1/record", {"tag_name": f"t{brk}{FORGED}", "source_ids": [1]},
                token=TOKEN)
    log = st.log_text()
    assert forged_lines(log) == [], forged_lines(log)[:5]
    access = [line for line in log.splitlines() if "api.access" in line]
    assert access and all(line.count('"') == 2 for line in access), access[-3:]


def test_a_traceback_with_the_callers_text_keeps_the_stations_lines_apart():
    """The handler's formatter (installed by app.main): an exception whose message carries a
    forged line is written with its continuation lines indented."""
    fmt = OneLineFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        raise ValueError(f"bad id\n2026-01-01 00:00:00,000 INFO app: {FORGED}\u2028{FORGED}")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "id %s\r\n%s", ("a\x85b", FORGED),
                                   sys.exc_info())
    text = fmt.format(record)
    lines = text.splitlines()
    assert lines[0].endswith("id a\\x85b\\r\\n" + FORGED)
    assert lines[1] == "  Traceback (most recent call last):"
    assert all(line.startswith("  ") for line in lines[1:]), lines
    assert any(line.startswith("  2026-01-01") for line in lines), lines
    assert escaped("ok text") == "ok text" and escaped("\u202eevil\u200b") == "\\u202eevil\\u200b"
