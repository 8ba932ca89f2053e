"""The guard every dialect passes (api/security.py), attacked on real station processes:
DNS rebinding (a foreign `Host`), a web page posting cross-site (an `Origin`, a body type a
page can send without a preflight), and guessing credentials (429 per address)."""

from __future__ import annotations

import http.client
import json

import pytest
from aiohttp import web

from api.app import check_policies, create_app
from api.security import POLICY
from app.station import build_station
from tests.conftest import make_settings
from tests.security.conftest import TOKEN
from tests.support.station_process import StationProcess

EVIL = "http://evil.example"
LIVE = "/v1/p1/record/control?action=START"
LIVE_BODY = {"publish_domain": "push.example.com", "app": "live", "stream": "s1"}


def raw(station: StationProcess, method: str, path: str, *, body: bytes | None = None,
        headers: dict[str, str] | None = None, source: str | None = None):
    """One request exactly as given (the Host header too), optionally from another local
    address; (status, parsed JSON or bytes, headers)."""
    conn = http.client.HTTPConnection(station.host, station.port, timeout=15,
                                      source_address=(source, 0) if source else None)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        hdrs = {"Host": f"{station.host}:{station.port}", **(headers or {})}
        if body is not None:
            hdrs["Content-Length"] = str(len(body))
        for name, value in hdrs.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        response = conn.getresponse()
        data = response.read()
        try:
            data = json.loads(data)
        except ValueError:
            pass
        return response.status, data, response.headers
    finally:
        conn.close()


def names(station: StationProcess, token: str | None = None) -> list[str]:
    status, body, _ = station.call("GET", "/api/v1/group", token=token)
    assert status == 200, body
    return [g["name"] for g in body]


def test_dns_rebinding_is_refused_on_every_guarded_dialect(tmp_path):
    with StationProcess(tmp_path, env={"RS_ALLOWED_HOSTS": '["station.lan", "*.cams.example"]'}) as st:
        port = st.port
        for host in (f"evil.example:{port}", f"127.0.0.1.nip.io:{port}", "evil.example",
                     f"localhost.evil.example:{port}", f"station.lan.evil.example:{port}"):
            status, body, _ = raw(st, "GET", "/api/v1/source", headers={"Host": host})
            assert status == 421 and "Host" in body["detail"], (host, body)
            status, body, _ = raw(st, "POST", "/api/v1/group", body=b'{"name": "rebound"}',
                                  headers={"Host": host, "Content-Type": "application/json"})
            assert status == 421, host
            status, body, _ = raw(st, "POST", LIVE, body=json.dumps(LIVE_BODY).encode(),
                                  headers={"Host": host, "Content-Type": "application/json"})
            assert status == 421 and "error_code" in body, (host, body)  # Huawei's own shape
        assert names(st) == []
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}", f"station.lan:{port}",
                     f"a.cams.example:{port}", f"LOCALHOST:{port}"):
            status, body, _ = raw(st, "GET", "/api/v1/source", headers={"Host": host})
            assert status == 200, (host, body)
        # Device Connect serves pages anywhere by design: its tokens protect it instead
        status, body, _ = raw(st, "GET", "/gotapi/availability", headers={"Host": f"evil.example:{port}"})
        assert status == 200 and body["result"] == 0
        assert "Host 'evil.example" in st.log_text()


def test_a_web_page_cannot_change_state(open_station):
    st = open_station
    page = {"Origin": EVIL}
    # what a page can send without a CORS preflight: text/plain JSON, forms, multipart
    attempts = [({"Content-Type": "text/plain"}, b'{"name": "csrf"}'),
                ({"Content-Type": "application/x-www-form-urlencoded"}, b"name=csrf"),
                ({"Content-Type": "multipart/form-data; boundary=x"},
                 b'--x\r\nContent-Disposition: form-data; name="name"\r\n\r\ncsrf\r\n--x--\r\n')]
    for headers, body in attempts:
        status, answer, _ = raw(st, "POST", "/api/v1/group", body=body, headers={**page, **headers})
        assert status == 403 and "origin" in answer["detail"], (headers, answer)
        # the same body without an Origin (a non-browser client): still not a native body
        status, answer, _ = raw(st, "POST", "/api/v1/group", body=body, headers=headers)
        assert status == 415, (headers, answer)
    status, _, _ = raw(st, "POST", "/api/v1/group", body=b'{"name": "csrf"}',
                       headers={**page, "Content-Type": "application/json"})
    assert status == 403
    for origin in ("null", "http://127.0.0.1", f"http://127.0.0.1:{st.port + 1}"):
        status, _, _ = raw(st, "POST", "/api/v1/group", body=b'{"name": "csrf"}',
                           headers={"Origin": origin, "Content-Type": "application/json"})
        assert status == 403, origin
    status, answer, _ = raw(st, "POST", LIVE, body=json.dumps(LIVE_BODY).encode(),
                            headers={**page, "Content-Type": "text/plain"})
    assert status == 403 and "error_code" in answer, answer
    for method, path in (("DELETE", "/api/v1/source/1"), ("PUT", "/api/v1/record")):
        status, _, _ = raw(st, method, path, body=b'{"tag_name": "t"}',
                           headers={**page, "Content-Type": "application/json"})
        assert status == 403, (method, path)
    assert names(st) == []
    # the station's own pages (the docs' "Try it out") are same-origin and may
    status, answer, _ = raw(st, "POST", "/api/v1/group", body=b'{"name": "docs"}',
                            headers={"Origin": f"http://{st.host}:{st.port}",
                                     "Content-Type": "application/json"})
    assert status == 200, answer
    # reading is harmless: a cross-site page cannot read the answer (no CORS on native)
    status, _, headers = raw(st, "GET", "/api/v1/group", headers=page)
    assert status == 200 and "Access-Control-Allow-Origin" not in headers


def test_allowed_origins_may_change_state(tmp_path):
    tool = "https://wall.example:8443"
    with StationProcess(tmp_path, env={"RS_ALLOWED_ORIGINS": json.dumps([tool])}) as st:
        status, answer, _ = raw(st, "POST", "/api/v1/group", body=b'{"name": "from-tool"}',
                                headers={"Origin": tool + "/", "Content-Type": "application/json"})
        assert status == 200, answer
        status, _, _ = raw(st, "POST", "/api/v1/group", body=b'{"name": "x"}',
                           headers={"Origin": "https://wall.example", "Content-Type": "application/json"})
        assert status == 403
        assert names(st) == ["from-tool"]


def test_guessing_credentials_is_rate_limited_per_address(token_station):
    st = token_station
    wrong = "guess-0000-not-the-token"
    for i in range(10):
        status, body, _ = raw(st, "GET", "/api/v1/source", headers={"Authorization": f"Bearer {wrong}{i}"})
        assert status == 401, (i, body)
    status, body, headers = raw(st, "GET", "/api/v1/source", headers={"Authorization": f"Bearer {wrong}"})
    assert status == 429 and int(headers["Retry-After"]) >= 1, body
    # locked out on every dialect: wrong tokens and none get 429 (and keep counting) ...
    for headers in ({"Authorization": f"Bearer {wrong}x"}, {}, {"X-Auth-Token": wrong}):
        status, body, _ = raw(st, "GET", "/api/v1/source", headers=headers)
        assert status == 429, (headers, body)
    status, body, _ = raw(st, "POST", LIVE, body=json.dumps(LIVE_BODY).encode(),
                          headers={"X-Auth-Token": wrong, "Content-Type": "application/json"})
    assert status == 429 and "error_code" in body, body
    # ... but a request with the right token passes (#21 item 14): a program failing on
    # purpose must not lock out every tool that shares the address
    status, body, _ = raw(st, "GET", "/api/v1/source", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200, body
    status, body, _ = raw(st, "POST", LIVE, body=json.dumps(LIVE_BODY).encode(),
                          headers={"X-Auth-Token": TOKEN, "Content-Type": "application/json"})
    assert status not in (401, 429) and "error_code" in body, body
    # another address is not punished for it
    status, body, _ = raw(st, "GET", "/api/v1/source", headers={"Authorization": f"Bearer {TOKEN}"},
                          source="127.0.0.2")
    assert status == 200, body
    log = st.log_text()
    assert log.count("auth refused: dialect=native address=127.0.0.1") >= 10
    assert "locked out" in log
    assert wrong not in log and TOKEN not in log


def test_a_dialect_without_a_policy_is_never_served(tmp_path):
    """By construction: every dialect the station mounts declares a DialectPolicy, and an
    application mounted without one stops the station from starting rather than being
    served past the guard."""
    station = build_station(make_settings(tmp_path))
    try:
        app = create_app(station)  # the real dialects all declare theirs
        mounted = {r.get_info()["app"][POLICY].name for r in app.router.resources()
                   if "app" in r.get_info()}
        assert mounted == {"device-connect", "huawei-live", "huawei-rtc"}
        app.add_subapp("/unguarded", web.Application())
        with pytest.raises(RuntimeError, match="/unguarded.*DialectPolicy"):
            check_policies(app)
    finally:
        station.catalog.close()


def test_a_web_page_failing_on_purpose_cannot_lock_out_the_local_tools(token_station):
    """A page can make the operator's browser send failing requests (`<img src=...?accessToken=x>`)
    from 127.0.0.1, the address every local tool shares: the page is locked out, the tools
    are not. Guessing from a page is limited all the same."""
    st = token_station
    page = {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "image"}
    for i in range(10):
        status, _, _ = raw(st, "GET", f"/api/v1/source/1/picture?accessToken=guess{i}", headers=page)
        assert status == 401, i
    status, _, _ = raw(st, "GET", "/api/v1/source/1/picture?accessToken=guess-x", headers=page)
    assert status == 429  # the page's guesses stop paying off
    status, body, _ = raw(st, "GET", "/api/v1/source", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 200, body  # a local tool on the same address is not locked out
    status, body, _ = raw(st, "POST", LIVE, body=json.dumps(LIVE_BODY).encode(),
                          headers={"X-Auth-Token": TOKEN, "Content-Type": "application/json"})
    assert status != 429, body
    assert "address=127.0.0.1 (a web page) GET /api/v1/source/1/picture" in st.log_text()
