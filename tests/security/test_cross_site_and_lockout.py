"""The guard's second round (#21 items 12 and 14), against real station processes.

Item 12: another site's page reached native GET handlers (the guard checked `Origin` on state
changes only), e.g. to make the station cut exports. Now a request a browser marks as made for
another site (`Sec-Fetch-Site: cross-site` / `same-site`) reaches only the media URLs handed
to Device Connect pages, and a top-level navigation to the docs.

Item 14: the lockout after failed authentications was per exact address: a local program that
failed on purpose locked out every local tool, the right token included, and an IPv6 client
could rotate through its /64. Now a request with a valid credential passes a lockout (the
guesser's own requests keep getting 429 and keep counting), and IPv6 is counted by /64.
"""

from __future__ import annotations

import json
import subprocess
import textwrap

import pytest

from tests.security.conftest import TOKEN
from tests.security.test_guard import LIVE, LIVE_BODY, raw
from tests.support import netns
from tests.support.station_process import StationProcess

PAGE = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}
BEARER = {"Authorization": f"Bearer {TOKEN}"}
EXPORTS = ("/api/v1/source/1/export?start=2026-01-01T00:00:00Z&end=2026-01-01T00:01:00Z",
           "/api/v1/export?source_ids=1&start=2026-01-01T00:00:00Z&end=2026-01-01T00:01:00Z",
           "/api/v1/bookmark/1/export")


def dc_token(station: StationProcess) -> str:
    _, grant, _ = station.call("GET", "/gotapi/authorization/grant")
    status, answer, _ = station.call(
        "GET", f"/gotapi/authorization/accesstoken?clientId={grant['clientId']}"
               "&scope=mediastreamrecording&applicationName=guard", headers={"X-Auth-Token": TOKEN})
    assert status == 200 and answer["result"] == 0, answer
    return answer["accessToken"]


# --- item 12 ---------------------------------------------------------------------------------
def test_another_sites_page_reaches_only_the_media_urls(token_station):
    st = token_station
    # what a page can make the browser send: <img>, fetch(no-cors), a form, a link it was
    # given with the token in it; same-site (another port of localhost) alike
    for site in ("cross-site", "same-site", "Cross-Site"):
        page = {**PAGE, "Sec-Fetch-Site": site}
        for path in ("/api/v1/source", "/api/v1/group", "/api/v1/audit", *EXPORTS,
                     f"/api/v1/source?accessToken={TOKEN}", "/api/v1/source/1/timeline", "/api/v1/bookmark"):
            status, body, _ = raw(st, "GET", path, headers={**page, **BEARER})
            assert status == 403 and "another site" in body["detail"], (site, path, body)
        status, body, _ = raw(st, "POST", "/api/v1/group", body=b'{"name": "x"}', headers={
            **page, **BEARER, "Content-Type": "application/json"})
        assert status == 403, (site, body)
    # a tab opened on an API URL (a navigation) is no way around it; on the docs it is fine
    navigate = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate",
                "Sec-Fetch-Dest": "document"}
    status, _, _ = raw(st, "GET", f"{EXPORTS[0]}&accessToken={TOKEN}", headers=navigate)
    assert status == 403
    for path, expected in (("/api/docs", 200), ("/", 401)):  # the index wants the token
        status, _, _ = raw(st, "GET", path, headers=navigate)
        assert status == expected, path
    status, _, _ = raw(st, "GET", "/api/docs", headers={**navigate, "Sec-Fetch-Dest": "iframe"})
    assert status == 403  # framed by the page: not a navigation of the user's own
    # the media URLs a Device Connect page embeds get through to their own checks
    for path in ("/api/v1/source/1/picture", "/api/v1/source/1/video?delay=0.2",
                 "/api/v1/record/r-1/video"):
        status, body, _ = raw(st, "GET", f"{path}{'&' if '?' in path else '?'}accessToken=guess",
                              headers=PAGE)
        assert status == 401, (path, body)
    status, body, _ = raw(st, "GET", f"/api/v1/source/99/picture?accessToken={TOKEN}", headers=PAGE)
    assert status == 404, body
    # requests of the station's own pages, and of programs (no Sec-Fetch-Site), are served
    for headers in ({"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, {}):
        status, body, _ = raw(st, "GET", EXPORTS[0].replace("/1/", "/99/"), headers={**headers, **BEARER})
        assert status not in (401, 403), (headers, body)
    # Device Connect is made for pages: unaffected
    status, body, _ = raw(st, "GET", "/gotapi/availability", headers=PAGE)
    assert status == 200 and body["result"] == 0
    log = st.log_text()
    assert "(a web page) GET /api/v1/source/1/export: Sec-Fetch-Site cross-site" in log
    assert TOKEN not in log


# --- item 14 ---------------------------------------------------------------------------------
def test_a_valid_credential_passes_a_lockout_and_the_guesser_stays_out(token_station):
    st = token_station
    token = dc_token(st)
    for i in range(10):
        status, _, _ = raw(st, "GET", "/api/v1/source", headers={"Authorization": f"Bearer guess{i}"})
        assert status == 401
    for round_ in range(3):  # guesses and the right credentials, interleaved
        for headers in ({"Authorization": f"Bearer guess-{round_}"}, {},
                        {"X-Auth-Token": f"guess-{round_}"}):
            status, _, answer_headers = raw(st, "GET", "/api/v1/source", headers=headers)
            assert status == 429 and int(answer_headers["Retry-After"]) >= 1, headers
        status, body, _ = raw(st, "GET", f"/api/v1/source?accessToken=guess-{round_}")
        assert status == 429, body
        for headers, path in ((BEARER, "/api/v1/source"), ({"X-Auth-Token": TOKEN}, "/api/v1/source"),
                              ({}, f"/api/v1/source?accessToken={TOKEN}")):
            status, body, _ = raw(st, "GET", path, headers=headers)
            assert status == 200 and body == [], (headers, body)
        # Device Connect: its own token (in the query) passes, a guessed one and none do not
        status, body, _ = raw(st, "GET", f"/gotapi/servicediscovery?accessToken={token}")
        assert status == 200 and body["result"] == 0, body
        status, body, _ = raw(st, "GET", f"/gotapi/servicediscovery?accessToken=guess{round_}")
        assert status == 429 and body["errorCode"] == 17, body
        status, body, _ = raw(st, "GET", "/gotapi/availability")
        assert status == 429, body
        # Huawei: the token passes, a wrong one does not
        for given, locked in ((TOKEN, False), (f"guess-{round_}", True)):
            status, body, _ = raw(st, "POST", LIVE, body=json.dumps(LIVE_BODY).encode(), headers={
                "X-Auth-Token": given, "Content-Type": "application/json"})
            assert (status == 429) is locked and "error_code" in body, (given, body)
    log = st.log_text()
    # every failure during the lockout still counted: 10 before, 4 native and 1 Device
    # Connect a round after
    assert log.count("auth refused: dialect=native address=127.0.0.1 ") >= 10 + 3 * 4
    assert log.count("auth refused: dialect=device-connect address=127.0.0.1 ") >= 3
    assert TOKEN not in log and token not in log


def _in_namespace(name: str, code: str) -> str:
    done = subprocess.run(["ip", "netns", "exec", name, netns.sys.executable, "-c", code],
                          cwd=netns.ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


CLIENT = textwrap.dedent('''
    import http.client, json
    token = {token!r}
    def get(source, given):
        conn = http.client.HTTPConnection("2001:db8:1::1", {port}, timeout=10,
                                          source_address=(source, 0))
        conn.request("GET", "/api/v1/source", headers={{"Authorization": "Bearer " + given}})
        status = conn.getresponse().status
        conn.close()
        return status
    out = {{}}
    # ten guesses from ten addresses of one /64
    out["guesses"] = [get(f"2001:db8:1::{{10 + i:x}}", f"guess{{i}}") for i in range(10)]
    out["same_64_wrong"] = get("2001:db8:1::ff", "guess")
    out["same_64_right"] = get("2001:db8:1::fe", token)
    out["other_64_wrong"] = get("2001:db8:2::2", "guess")
    out["other_64_right"] = get("2001:db8:2::3", token)
    print(json.dumps(out))
''')


@pytest.mark.skipif(netns.available() is not None, reason=str(netns.available()))
def test_an_ipv6_client_is_counted_by_its_64(tmp_path):
    """In a network namespace of its own: a station on `::` and a client with addresses
    in two /64s. Guesses spread over one /64 lock out the whole /64 (the right token still
    passes); the other /64 is not punished."""
    name = f"rs-v6-{tmp_path.name[-6:].replace('_', '')}"[:15]
    subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True)
    try:
        run = ["ip", "-n", name]
        subprocess.run([*run, "link", "set", "lo", "up"], check=True)
        addresses = ["2001:db8:1::1", "2001:db8:1::fe", "2001:db8:1::ff", "2001:db8:2::2",
                     "2001:db8:2::3", *(f"2001:db8:1::{10 + i:x}" for i in range(10))]
        for address in addresses:
            subprocess.run([*run, "addr", "add", f"{address}/64", "dev", "lo", "nodad"], check=True)
        with StationProcess(tmp_path, name="v6", host="::", prefix=["ip", "netns", "exec", name],
                            env={"RS_TOKEN": TOKEN}) as st:
            out = json.loads(_in_namespace(name, CLIENT.format(port=st.port, token=TOKEN)))
            assert out["guesses"] == [401] * 10, out
            assert out["same_64_wrong"] == 429, out  # a new address of the same /64
            assert out["same_64_right"] == 200, out  # the right token is never locked out
            assert out["other_64_wrong"] == 401, out  # another /64 is another client
            assert out["other_64_right"] == 200, out
            log = st.log_text()
            assert "address=2001:db8:1::ff GET /api/v1/source: locked out" in log
            assert TOKEN not in log
    finally:
        subprocess.run(["ip", "netns", "del", name], capture_output=True)
