"""Every native endpoint against bad input, on the real app and services: the FastAPI-style
error shapes, nothing stored changes, trailing slashes, query-vs-body input, request ids,
tokens, and secrets that never come back out (responses or logs)."""

from __future__ import annotations

import asyncio
import json
import logging

import aiohttp
import pytest

from api.app import MAX_BODY, create_app
from api.native.routedoc import ROUTE_DOCS
from api.security import FAILURES, FailureLimiter
from app.station import build_station, start_station, stop_station
from tests.conftest import TESTSRC, make_settings

JSON = {"Content-Type": "application/json"}
BODY_ROUTES = [("POST", "/api/v1/source"), ("PUT", "/api/v1/source/{sid}"), ("POST", "/api/v1/group"),
               ("POST", "/api/v1/record"), ("PUT", "/api/v1/record"),
               ("DELETE", "/api/v1/record/{rid}/file")]


@pytest.fixture
async def client(aiohttp_client, station):
    return await aiohttp_client(create_app(station))


async def _seeded(client) -> dict:
    src = await (await client.post("/api/v1/source", json={"name": "cam", "uri_rtsp": TESTSRC})).json()
    group = (await (await client.post("/api/v1/group", json={"name": "g"})).json())[0]
    assert await (await client.post(f"/api/v1/group/{group['id']}/source/{src['id']}")).json() is True
    return {"sid": src["id"], "gid": group["id"], "rid": "0" * 32}


async def _state(client) -> str:
    """Everything the API shows, minus what changes by itself (a source's live status)."""
    sources = await (await client.get("/api/v1/source")).json()
    for s in sources:
        s.pop("status"), s.pop("error")
    groups = await (await client.get("/api/v1/group")).json()
    details = [await (await client.get(f"/api/v1/group/{g['id']}")).json() for g in groups]
    for d in details:
        for s in d["sources"]:
            s.pop("status"), s.pop("error")
    tags = await (await client.get("/api/v1/tag/begin")).json()
    return json.dumps([sources, details, tags], sort_keys=True)


def _detail_422(body: dict, loc: list, type_: str | None = None) -> None:
    assert isinstance(body["detail"], list) and body["detail"], body
    item = body["detail"][0]
    assert set(item) == {"loc", "msg", "type"} and item["msg"], body
    assert item["loc"][: len(loc)] == loc, body
    if type_:
        assert item["type"] == type_, body


async def test_malformed_bodies_are_refused_in_shape_and_change_nothing(client):
    ids = await _seeded(client)
    before = await _state(client)
    for method, template in BODY_ROUTES:
        path = template.format(**ids)
        send = lambda **kw: client.request(method, path, **kw)  # noqa: E731

        resp = await send(data=b'{"name": "x",', headers=JSON)
        assert resp.status == 422, (method, path)
        _detail_422(await resp.json(), ["body"], "json_invalid")
        assert isinstance((await resp.json())["detail"][0]["loc"][1], int)  # the offset

        for bad in (b"[1, 2]", b'"text"', b"17", b"null"):
            resp = await send(data=bad, headers=JSON)
            assert resp.status == 422, (method, path, bad)
            _detail_422(await resp.json(), ["body"])

        resp = await send(data=b"[" * 100_000, headers=JSON)  # deeper than the parser goes
        assert resp.status == 422, (method, path)
        resp = await send(data=b'{"name": "\xff\xfe"}', headers=JSON)
        assert resp.status == 422, (method, path)
        for ctype in ("multipart/form-data", "application/x-www-form-urlencoded", "text/plain"):
            # what a web page can send cross-site without a preflight: never a native body
            resp = await send(data=b'{"name": "x"}', headers={"Content-Type": ctype})
            assert resp.status == 415 and "detail" in await resp.json(), (method, path, ctype)
        resp = await send(data=b"x" * (MAX_BODY + 1), headers=JSON)
        assert resp.status == 413, (method, path)
        assert resp.content_type == "application/json" and "detail" in await resp.json()
    # wrong types, named by field
    cases = [
        ("POST", "/api/v1/source", {"name": 5, "uri_rtsp": TESTSRC}, ["body", "name"], "string_type"),
        ("POST", "/api/v1/source", {"uri_rtsp": TESTSRC, "enabled": "maybe"}, ["body", "enabled"], "bool_parsing"),
        ("POST", "/api/v1/source", {"model": "PictureSource", "uri_http_picture": "http://x/a.jpg"},
         ["body", "uri_http_picture"], "model_type"),
        ("POST", "/api/v1/source", {"model": "PictureSource",
                                    "uri_http_picture": {"uri": "http://127.0.0.1/a.jpg", "auth": "ntlm"}},
         ["body", "uri_http_picture", "auth"], "enum"),
        ("POST", "/api/v1/source", {"uri_rtsp": "gopher://127.0.0.1/x"}, ["body", "uri_rtsp"], None),
        ("POST", "/api/v1/source", {"uri_rtsp": "rtsp://[::1/x"}, ["body", "uri_rtsp"], None),
        ("POST", "/api/v1/source", {"uri_rtsp": TESTSRC, "ffmpeg_cmd": "-c:v libx264 -vf 'unclosed"},
         ["body", "ffmpeg_cmd"], None),
        ("PUT", f"/api/v1/source/{ids['sid']}", {"name": ""}, ["body", "name"], "string_too_short"),
        ("POST", "/api/v1/group", {"name": ["g"]}, ["body", "name"], "string_type"),
        ("POST", "/api/v1/group", {}, ["body", "name"], "missing"),
        ("POST", "/api/v1/record", {"tag_name": "t", "group_name": "g", "model": "Camera"},
         ["body", "model"], "enum"),
        ("PUT", "/api/v1/record", {"tag_name": None}, ["body", "tag_name"], "string_type"),
        ("DELETE", "/api/v1/record/x/file", {"location": 5}, ["body", "location"], "string_type"),
    ]
    for method, path, body, loc, type_ in cases:
        resp = await client.request(method, path, json=body)
        assert resp.status == 422, (method, path, body, await resp.text())
        _detail_422(await resp.json(), loc, type_)
    for path, loc in (("/api/v1/record", ["query", "tag_name"]), ("/api/v1/record/runing", ["query", "tag_name"]),
                      ("/api/v1/tag", ["query", "name"]),
                      (f"/api/v1/source/{ids['sid']}/video?delay=-1", ["query", "delay"]),
                      (f"/api/v1/source/{ids['sid']}/video?delay=nan", ["query", "delay"])):
        resp = await client.get(path)
        assert resp.status == 422, path
        _detail_422(await resp.json(), loc)
    assert await _state(client) == before


async def test_unknown_and_malformed_ids(client):
    ids = await _seeded(client)
    before = await _state(client)
    sid, gid = ids["sid"], ids["gid"]
    not_found = [
        ("GET", "/api/v1/source/999"), ("PUT", "/api/v1/source/999"), ("DELETE", "/api/v1/source/999"),
        ("GET", "/api/v1/source/999/picture"), ("GET", "/api/v1/source/999/video"),
        ("GET", "/api/v1/group/999"), ("DELETE", "/api/v1/group/999"),
        ("POST", f"/api/v1/group/999/source/{sid}"), ("POST", f"/api/v1/group/{gid}/source/999"),
        ("DELETE", f"/api/v1/group/999/source/{sid}"), ("DELETE", f"/api/v1/group/{gid}/source/999"),
        ("GET", "/api/v1/record/nope"), ("GET", "/api/v1/record/nope/video"),
        ("DELETE", "/api/v1/record/nope/file?location=/x"), ("GET", "/api/v1/tag?name=nope"),
        ("PUT", "/api/v1/record?tag_name=nope"), ("POST", "/api/v1/record?tag_name=t&group_name=nope"),
        ("GET", "/api/v1/nothing-here"), ("GET", "/test/nothing"),
    ]
    for method, path in not_found:
        resp = await client.request(method, path)
        assert resp.status == 404, (method, path, await resp.text())
        body = await resp.json()
        assert isinstance(body["detail"], str) and body["detail"], (method, path)
    for bad in ("abc", "1.5", "99999999999999999999", "-"):
        for method, path in (("GET", f"/api/v1/source/{bad}"), ("DELETE", f"/api/v1/group/{bad}"),
                             ("POST", f"/api/v1/group/{gid}/source/{bad}")):
            resp = await client.request(method, path)
            assert resp.status == 422, (method, path)
            _detail_422(await resp.json(), ["path"], "int_parsing")
    resp = await client.patch("/api/v1/source")
    assert resp.status == 405 and "GET" in resp.headers["Allow"]
    assert "detail" in await resp.json()
    assert await (await client.get("/api/v1/record?tag_name=nope")).json() == []
    assert await (await client.get("/api/v1/record/runing?tag_name=nope")).json() is False
    assert await _state(client) == before


async def test_duplicates_are_refused(client):
    ids = await _seeded(client)
    other = await (await client.post("/api/v1/source", json={"name": "cam2", "uri_rtsp": TESTSRC})).json()
    before = await _state(client)
    resp = await client.post("/api/v1/source", json={"name": "cam", "uri_rtsp": TESTSRC})
    assert resp.status == 422
    _detail_422(await resp.json(), ["body", "name"])
    resp = await client.put(f"/api/v1/source/{other['id']}", json={"name": "cam"})
    assert resp.status == 422
    _detail_422(await resp.json(), ["body", "name"])
    resp = await client.post("/api/v1/group", json={"name": "g"})
    assert resp.status == 422
    _detail_422(await resp.json(), ["body", "name"])
    resp = await client.post(f"/api/v1/group/{ids['gid']}/source/{ids['sid']}")
    assert resp.status == 200 and await resp.json() is False
    assert await _state(client) == before


async def test_every_route_takes_an_optional_trailing_slash(client, station):
    """Same answer with and without the slash, for every registered operation."""
    await _seeded(client)
    app = client.server.app
    for doc in app[ROUTE_DOCS]:
        if doc.path.endswith("/video") and "source" in doc.path:
            continue  # an endless stream; covered by its own tests
        path = doc.path.format(**{name: "999" for name in doc.path_params})
        bare = await client.request(doc.method, path)
        slash = await client.request(doc.method, path + "/")
        assert bare.status == slash.status != 405, (doc.method, path)
        if slash.status == 404:  # an unknown id, not an unknown route
            assert "not found" in (await slash.json())["detail"], (doc.method, path)


async def test_query_parameters_work_like_a_json_body(client, station):
    resp = await client.post("/api/v1/source", params={"name": "q", "uri_rtsp": TESTSRC, "description": "d"})
    assert resp.status == 200, await resp.text()
    src = await resp.json()
    assert (src["name"], src["description"]) == ("q", "d")
    # the body wins over the query
    resp = await client.put(f"/api/v1/source/{src['id']}", params={"description": "query"},
                            json={"description": "body"})
    assert (await resp.json())["description"] == "body"
    # a form is not a native body (a web page could send one cross-site): 415, nothing changes
    resp = await client.put(f"/api/v1/source/{src['id']}", data={"description": "form"})
    assert resp.status == 415
    assert (await (await client.get(f"/api/v1/source/{src['id']}")).json())["description"] == "body"
    group = (await (await client.post("/api/v1/group", params={"name": "qg"})).json())[0]
    assert group["name"] == "qg"
    assert await (await client.post(f"/api/v1/group/{group['id']}/source/{src['id']}")).json() is True
    for _ in range(200):
        if (await (await client.get(f"/api/v1/source/{src['id']}")).json())["status"] == "online":
            break
        await asyncio.sleep(0.05)
    started = await (await client.post("/api/v1/record", params={"tag_name": "qt", "group_name": "qg"})).json()
    assert started[0]["status"] == "recording"
    assert await (await client.get("/api/v1/record/running", params={"tag_name": "qt"})).json() is True
    stopped = await (await client.put("/api/v1/record", params={"tag_name": "qt"})).json()
    assert stopped[0]["status"] == "finished"
    resp = await client.delete(f"/api/v1/record/{stopped[0]['id']}/file",
                               params={"location": stopped[0]["location"]})
    assert (await resp.json())["status"] == "deleted"


async def test_every_response_carries_a_request_id(client):
    ids = await _seeded(client)
    requests = [("GET", "/api/v1/source", None), ("GET", "/api/v1/source/999", None),
                ("GET", "/api/v1/source/abc", None), ("POST", "/api/v1/group", b"{bad"),
                ("PATCH", "/api/v1/group", None), ("GET", "/api/v1/nope", None),
                ("POST", "/api/v1/group", b"x" * (MAX_BODY + 10)), ("GET", "/test/img", None),
                ("GET", "/api/openapi.json", None), ("GET", "/api/docs", None),
                ("GET", f"/api/v1/source/{ids['sid']}/video?delay=abc", None)]
    for method, path, data in requests:
        resp = await client.request(method, path, data=data, headers=JSON if data else None)
        assert len(resp.headers.get("X-Request-Id", "")) >= 16, (method, path, resp.status)
        mine = await client.request(method, path, data=data,
                                    headers={"X-Request-Id": "client-chosen-42", **(JSON if data else {})})
        assert mine.headers["X-Request-Id"] == "client-chosen-42", (method, path)
    first = (await client.get("/api/v1/source")).headers["X-Request-Id"]
    assert (await client.get("/api/v1/source")).headers["X-Request-Id"] != first


async def test_token_accepted_three_ways_and_refused_in_shape(aiohttp_client, tmp_path):
    st = build_station(make_settings(tmp_path, token="s3cret"))
    start_station(st)
    try:
        app = create_app(st)
        app[FAILURES] = FailureLimiter(limit=1000)  # 24 refusals here; the 429 is tested apart
        client = await aiohttp_client(app)
        good = [{"headers": {"Authorization": "Bearer s3cret"}}, {"headers": {"X-Auth-Token": "s3cret"}},
                {"params": {"accessToken": "s3cret"}}]
        bad = [{}, {"headers": {"Authorization": "Bearer nope"}}, {"headers": {"Authorization": "Basic s3cret"}},
               {"headers": {"X-Auth-Token": "s3cret2"}}, {"params": {"accessToken": ""}},
               {"params": {"accessToken": "S3CRET"}}]
        for method, path, body in (("GET", "/api/v1/source", None), ("GET", "/api/v1/record/runing?tag_name=t", None),
                                   ("POST", "/api/v1/group", {"name": "g"}), ("GET", "/test/img", None)):
            for kwargs in bad:
                resp = await client.request(method, path, json=body, **kwargs)
                assert resp.status == 401, (method, path, kwargs)
                body_401 = await resp.json()
                assert isinstance(body_401["detail"], str) and resp.headers["WWW-Authenticate"] == "Bearer"
                assert resp.headers["X-Request-Id"]
        assert await (await client.get("/api/v1/group", headers={"X-Auth-Token": "s3cret"})).json() == []
        for i, kwargs in enumerate(good):
            resp = await client.post("/api/v1/group", json={"name": f"g{i}"}, **kwargs)
            assert resp.status == 200, kwargs
        # the token never becomes a field: accessToken is not a group name
        resp = await client.post("/api/v1/group?accessToken=s3cret")
        assert resp.status == 422
        names = [g["name"] for g in await (await client.get("/api/v1/group?accessToken=s3cret")).json()]
        assert names == ["g0", "g1", "g2"]
    finally:
        stop_station(st)


async def test_passwords_never_come_back_out_nor_reach_the_access_log(station, api_server, caplog):
    secret, pic_secret = "hunter2-rtsp", "hunter2-pic"
    base = api_server.url.rstrip("/")
    caplog.set_level(logging.DEBUG)
    async with aiohttp.ClientSession() as http:
        async def call(method, path, **kw):
            async with http.request(method, base + path, **kw) as resp:
                return resp.status, await resp.text()

        status, text = await call("POST", "/api/v1/source", json={
            "name": "cam", "uri_rtsp": f"rtsp://admin:{secret}@127.0.0.1:9/stream"})
        assert status == 200 and secret not in text and "rtsp://admin:******@127.0.0.1:9/stream" in text
        sid = json.loads(text)["id"]
        status, text = await call("POST", "/api/v1/source", params={
            "name": "cam-q", "uri_rtsp": f"rtsp://viewer:{secret}@127.0.0.1:9/q", "accessToken": "tok-zz"})
        assert status == 200 and secret not in text
        status, text = await call("POST", "/api/v1/source", json={
            "name": "pic", "model": "PictureSource", "uri_http_picture": {
                "uri": "http://127.0.0.1:9/snap.jpg", "auth": "digest", "user": "u", "password": pic_secret}})
        assert status == 200 and pic_secret not in text
        pid = json.loads(text)["id"]
        assert json.loads(text)["uri_http_picture"]["password"] == "******"
        # sending the mask back keeps the stored secret
        status, text = await call("PUT", f"/api/v1/source/{sid}", json={
            "uri_rtsp": "rtsp://admin:******@127.0.0.1:9/stream", "description": "kept"})
        assert status == 200 and secret not in text
        status, text = await call("PUT", f"/api/v1/source/{pid}", params={
            "description": "p"}, json={"uri_http_picture": {
                "uri": "http://127.0.0.1:9/snap.jpg", "user": "u", "password": "******"}})
        assert status == 200
        status, text = await call("POST", "/api/v1/group", json={"name": "g"})
        gid = json.loads(text)[0]["id"]
        await call("POST", f"/api/v1/group/{gid}/source/{sid}")
        await call("POST", f"/api/v1/group/{gid}/source/{pid}")
        for path in ("/api/v1/source", f"/api/v1/source/{sid}", f"/api/v1/source/{pid}",
                     f"/api/v1/group/{gid}", "/api/openapi.json"):
            status, text = await call("GET", path)
            assert status == 200 and secret not in text and pic_secret not in text, path
    with station.catalog.session() as s:  # still stored in clear, for the reader to use
        from app.models import Source
        assert secret in s.get(Source, sid).uri_rtsp
        assert s.get(Source, pid).uri_http_picture["password"] == pic_secret
    await asyncio.sleep(0.2)  # the access log line is written after the response
    logged = "\n".join(r.getMessage() for r in caplog.records)
    access = [r.getMessage() for r in caplog.records if r.name == "api.access"]
    assert any("/api/v1/source?" in line for line in access), access
    assert secret not in logged and pic_secret not in logged and "tok-zz" not in logged
