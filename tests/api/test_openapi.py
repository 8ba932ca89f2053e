"""`/api/openapi.json` and `/api/docs`: the document covers every native route, is built from
the models that validate requests, and the live station conforms to it (schemathesis)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from api.app import create_app
from api.native.openapi import build_document
from api.native.routedoc import ROUTE_DOCS
from app.schemas import GroupIn, SourceIn
from app.station import build_station, start_station, stop_station
from tests.conftest import make_settings, wait_until

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
NATIVE = ("/api/v1", "/test", "/metrics")
# MJPEG and the event stream never end by themselves: a fuzzer would hang on them (they have
# their own tests: tests/api/test_native_media.py, tests/api/test_events_api.py).
# the streams never end; signing in with made-up passwords is the lockout's business
# (tests/api/test_accounts_api.py), and 10 of them would lock the fuzzer out of the rest
NOT_FUZZED = r"(/source/\{source_id\}/video|/event/stream|/session)$"
CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance,response_headers_conformance,negative_data_rejection,"
          "unsupported_method")
CHEAP_PATTERN = "testsrc://?size=160x120&rate=5&gop=1"


def _get(url: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def _operations(document: dict) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def test_every_native_route_is_documented(station):
    app = create_app(station)
    document = build_document(app)
    served = {(route.method, route.resource.canonical.rstrip("/") or "/")
              for route in app.router.routes()
              if route.method != "HEAD" and route.resource is not None
              and route.resource.canonical.startswith(NATIVE)}
    documented = _operations(document)
    missing = served - documented
    assert not missing, (f"routes served but not in /api/openapi.json (register them with "
                         f"api.native.params.add_route): {sorted(missing)}")
    assert documented <= served, f"documented but not served: {sorted(documented - served)}"
    thin = [f"{d.method} {d.path}" for d in app[ROUTE_DOCS] if not d.documented]
    assert not thin, f"add_route(..., summary=..., response=... or binary=...) missing for {thin}"
    assert {"/api/v1/record/runing", "/api/v1/record/running"} <= set(document["paths"])


def test_document_shapes_come_from_the_models(station):
    document = build_document(create_app(station))
    assert document["openapi"] == "3.1.0"
    schemas = document["components"]["schemas"]
    # request models are the validating pydantic models, byte for byte
    for model in (SourceIn, GroupIn):
        expected = model.model_json_schema(ref_template="#/components/schemas/{model}")
        expected.pop("$defs", None)
        assert schemas[model.__name__] == expected

    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(document)))
    assert refs and refs <= set(schemas), f"dangling refs: {refs - set(schemas)}"

    paths = document["paths"]
    post_source = paths["/api/v1/source"]["post"]
    assert post_source["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SourceIn"}
    assert post_source["responses"]["422"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/HTTPValidationError"}
    item = schemas["ValidationErrorItem"]
    assert set(item["required"]) == {"loc", "msg", "type"}
    # the seed's oddities: a list from POST /group, a list-shaped source in GET /record
    assert paths["/api/v1/group"]["post"]["responses"]["200"]["content"]["application/json"][
        "schema"]["type"] == "array"
    listed = schemas["RecordListItem"]["properties"]["source"]
    assert listed["type"] == "array"
    get_source = paths["/api/v1/source/{source_id}"]["get"]
    assert {"401", "404", "422"} <= set(get_source["responses"])
    assert get_source["parameters"][0]["schema"]["type"] == "integer"
    assert all("X-Request-Id" in r["headers"] for p in paths.values() for op in p.values()
               for r in op["responses"].values())
    # binary bodies
    assert "image/jpeg" in paths["/api/v1/source/{source_id}/picture"]["get"]["responses"]["200"]["content"]
    mjpeg = paths["/api/v1/source/{source_id}/video"]["get"]
    assert any(m.startswith("multipart/x-mixed-replace") for m in mjpeg["responses"]["200"]["content"])
    assert [p["name"] for p in mjpeg["parameters"]] == ["source_id", "delay"]
    video = paths["/api/v1/record/{record_id}/video"]["get"]
    assert {"200", "206", "416"} <= set(video["responses"])
    assert "Content-Range" in video["responses"]["206"]["headers"]
    assert {"Range", "If-Range"} <= {p["name"] for p in video["parameters"]}
    assert [p for p in paths["/api/v1/record"]["get"]["parameters"]] == [{
        "name": "tag_name", "in": "query", "required": True,
        "description": "the tag (recording session) name",
        "schema": {"maxLength": 255, "minLength": 1, "title": "Tag Name", "type": "string"}}]
    assert "security" not in document  # no token configured


def test_docs_page_is_served_by_the_station_alone(tmp_path):
    from api.server import ApiServer

    st = build_station(make_settings(tmp_path, token="s3cret"))
    start_station(st)
    server = ApiServer(st, "127.0.0.1", 0).start()
    try:
        status, headers, body = _get(server.url + "api/docs")
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        html = body.decode()
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert len(assets) >= 4 and all(a.startswith("/api/docs/static/") for a in assets), assets
        assert "http://" not in html and "https://" not in html
        kinds = {}
        for asset in assets:
            status, headers, data = _get(server.url + asset.lstrip("/"))
            assert status == 200 and data, asset
            kinds[asset.rsplit(".", 1)[-1]] = headers["Content-Type"]
        assert kinds["css"].startswith("text/css") and "javascript" in kinds["js"]
        init = _get(server.url + "api/docs/static/docs-init.js")[2].decode()
        assert "validatorUrl: null" in init and "/api/openapi.json" in html
        assert _get(server.url + "api/docs/static/..%2Fdocs.py")[0] == 404
        assert _get(server.url + "api/docs/static/nope.js")[0] == 404

        # the document is public, the API is not; the document says how to authenticate
        status, _, body = _get(server.url + "api/openapi.json")
        document = json.loads(body)
        assert status == 200 and document["security"] == [
            {"bearer": []}, {"xAuthToken": []}, {"accessToken": []}]
        assert _get(server.url + "api/v1/source")[0] == 401
    finally:
        server.stop()
        stop_station(st)


def _seed(station) -> None:
    """A source that is online, in a group, with one finished record: real ids to hit."""
    src = station.sources.create(SourceIn(name="pattern", uri_rtsp=CHEAP_PATTERN))
    group = station.groups.create(GroupIn(name="lobby"))
    station.groups.add_source(group.id, src.id)
    wait_until(lambda: station.sources.get(src.id).status.value == "online", 20)
    station.recordings.start("seeded", "lobby")
    time.sleep(1.0)
    station.recordings.stop("seeded")


def _stored(station) -> dict:
    """What is stored, without what changes by itself (a source's live status)."""
    def clean(value):
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if k not in ("status", "error")}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return clean({
        "sources": [s.model_dump(mode="json") for s in station.sources.list()],
        "groups": [station.groups.get(g.id).model_dump(mode="json") for g in station.groups.list()],
        "records": [(r.id, r.status.value, r.location, r.hash_md5, r.tag_name)
                    for r in station.recordings.list()],
    })


def _schemathesis(server, workdir: Path, *args: str) -> str:
    """The schemathesis CLI in its own process (it keeps a cache folder in `workdir`)."""
    command = [str(Path(sys.executable).with_name("schemathesis")),
               "--config-file", str(HERE / "schemathesis.toml"), "run",
               server.url + "api/openapi.json", "--checks", CHECKS,
               "--exclude-path-regex", NOT_FUZZED, "--workers", "1", "--no-shrink",
               "--request-timeout", "10", "--seed", "4035", *args]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "tests.api.schemathesis_hooks",
           "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, capture_output=True, text=True, timeout=240, cwd=workdir, env=env)
    assert done.returncode == 0, "schemathesis found problems:\n" + done.stdout[-12000:] + done.stderr[-3000:]
    return done.stdout


@pytest.mark.timeout(300)
def test_invalid_requests_are_refused_in_the_documented_shape_and_change_nothing(
        station, api_server, tmp_path):
    """Invalid input only (a test of its own, beside the next one: two stations, two xdist
    workers, half the wait)."""
    _seed(station)
    before = _stored(station)
    _schemathesis(api_server, tmp_path, "--mode", "negative", "--phases", "fuzzing",
                  "--max-examples", "5")
    assert _stored(station) == before, "invalid requests changed stored state"


@pytest.mark.timeout(300)
def test_live_station_conforms_to_its_document(station, api_server, tmp_path):
    _seed(station)
    # valid input and stateful sequences (links): the examples, 5 generated cases per operation
    # and the links. Not schemathesis's coverage phase: its boundary cases for each of the ~80
    # operations cost 17 s of CPU of the suite's 2 cores (72 s alone, 22 s without); the
    # invalid-input test beside this one and the fuzzing's own drawing of boundary values
    # (hypothesis favours them) cover what it adds.
    out = _schemathesis(api_server, tmp_path, "--max-examples", "5",
                        "--phases", "examples,fuzzing,stateful")
    assert re.search(r"\d+ generated", out)
