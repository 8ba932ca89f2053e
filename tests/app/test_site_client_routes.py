"""The site client's routes against the real native router (issue #22 item 2).

The site client (app.site.client) is the one place that knows how another station is asked.
Every request it can send, from every one of its operations and from its route table (the
sync uploads use the table), is resolved by the router of the real `create_app`: the method
and path must reach a native handler with the very path parameters the client filled in, the
query parameters and body fields it sends must be ones that route reads, and whatever the route
requires must be sent. A route renamed or a parameter changed on the native side fails here,
not on a site in the field.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlsplit

import pytest
from aiohttp.test_utils import make_mocked_request

from api.app import create_app
from api.native.routedoc import route_docs
from app.site.client import (
    ROUTES, SOURCE_EXPORT, SOURCE_PICTURE, SOURCE_VIDEO, RECORD_VIDEO, Route, SiteClient)

OWNER = "owner-station-id"
PARAM = re.compile(r"\{(\w+)\}")
RECORD_ID = "0b8f6f5e-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
EXAMPLE_PATH = {"source_id": 7, "record_id": RECORD_ID, "upload_id": RECORD_ID}


@pytest.fixture
def database_url():
    """The router is the same on either catalog: SQLite only."""
    return None


class Sent(Exception):
    """What the client was about to send, instead of sending it."""

    def __init__(self, method: str, path_qs: str, body: bytes | None):
        super().__init__(method, path_qs)
        self.method, self.path_qs, self.body = method, path_qs, body


class Recording(SiteClient):
    """The real site client, its operations and headers, stopped at the wire: what it would
    send is raised as `Sent` (no station needs to listen for the routes to be walked)."""

    def base_url(self, station_id: str) -> str:
        return "http://192.0.2.1:4035"

    def _open(self, station_id, method, path_qs, body=None, headers=None, timeout=None):
        raise Sent(method, path_qs, body)


def sent_by(call) -> Sent:
    with pytest.raises(Sent) as caught:
        call()
    return caught.value


def operations(client: SiteClient) -> dict[str, Sent]:
    """Every operation of the client, each with what it sends."""
    begin = datetime(2026, 11, 26, 10, 15, 4, 75000, tzinfo=timezone.utc)
    sent = {
        "start_sources": sent_by(lambda: client.start_sources(OWNER, "shift", [7, 8])),
        "stop_tag": sent_by(lambda: client.stop_tag(OWNER, "shift", "Source")),
        "stop_tag without a model": sent_by(lambda: client.stop_tag(OWNER, "shift", None)),
        "live_video": sent_by(lambda: client.live_video(OWNER, 7, 0.5, timeout=1)),
        "record_file": sent_by(lambda: client.record_file(OWNER, RECORD_ID, "bytes=10-",
                                                          timeout=1)),
        "export": sent_by(lambda: client.export(OWNER, 7, begin, begin + timedelta(seconds=30),
                                                timeout=1)),
        "motion": sent_by(lambda: client.motion(OWNER, 7)),
        "change_motion": sent_by(lambda: client.change_motion(OWNER, 7, {
            "sensitivity": 60, "night_min_area": None,
            "zones": [{"name": "door", "kind": "include", "points": [[0, 0], [1, 0], [1, 1]],
                       "sensitivity": None}]})),
        "ptz": sent_by(lambda: client.ptz(OWNER, 7, {"action": "move", "pan": 0.5, "tilt": 0.0,
                                                       "zoom": 0.0, "timeout_s": 1.0,
                                                       "x": 0.0, "y": 0.0})),
        "ptz set_preset": sent_by(lambda: client.ptz(OWNER, 7, {"action": "set_preset",
                                                                "name": "gate", "preset": "3"})),
        "ptz_presets": sent_by(lambda: client.ptz_presets(OWNER, 7)),
        "motion_search": sent_by(lambda: client.motion_search(OWNER, {
            "source_id": [7, 8], "begin": "2026-11-26T10:15:04.075Z",
            "end": "2026-11-26T11:15:04.075Z", "region": ["0.0,0.0,0.5,1.0", "0.5,0.5,1,1"],
            "min_cells": 2, "merge_s": "5"})),
        "motion_heatmap": sent_by(lambda: client.motion_heatmap(
            OWNER, 7, begin, begin + timedelta(hours=1))),
    }
    for route, query in ((SOURCE_PICTURE, None), (SOURCE_VIDEO, {"delay": "0.5"}),
                         (RECORD_VIDEO, None), (SOURCE_EXPORT, {"begin": "2026-11-26T10:15:04Z",
                                                                "end": "2026-11-26T10:16:04Z"})):
        params = {k: v for k, v in EXAMPLE_PATH.items() if "{" + k + "}" in route.path}
        relay = client.relay(OWNER, route, query, **params)
        sent[f"relay {route.path}"] = Sent(route.method, relay.url.removeprefix(
            client.base_url(OWNER)), None)
    sent["record_file_url"] = Sent("GET", client.record_file_url(OWNER, RECORD_ID).removeprefix(
        client.base_url(OWNER)), None)
    return sent


async def resolved(app, method: str, path_qs: str):
    match = await app.router.resolve(make_mocked_request(method, path_qs, app=app))
    assert match.http_exception is None, f"{method} {path_qs}: {match.http_exception}"
    return match


def doc_of(app, method: str, canonical: str):
    bare = canonical.rstrip("/") or "/"
    found = [d for d in route_docs(app) if d.method == method and d.path == bare]
    assert found, f"{method} {canonical} is routed but not a documented native route"
    return found[0]


def fields(model) -> tuple[set[str], set[str]]:
    """(every field, the required ones) of a route's query or body model."""
    if model is None:
        return set(), set()
    return set(model.model_fields), {n for n, f in model.model_fields.items() if f.is_required()}


def route_of(method: str, canonical: str) -> Route:
    bare = canonical.rstrip("/")
    return next(r for r in ROUTES if r.method == method and r.path == bare)


async def test_every_request_the_site_client_sends_reaches_its_native_route(station):
    app = create_app(station)
    client = Recording(station.site, token=lambda: "site-token", outgoing=station.outgoing)
    sent = operations(client)
    walked = set()
    for name, request in sent.items():
        match = await resolved(app, request.method, request.path_qs)
        canonical = match.route.resource.canonical
        route = route_of(request.method, canonical)  # the client sent one of its own routes
        walked.add(route)
        # the same path parameters, with the values the client filled in
        expected = {k: str(v) for k, v in EXAMPLE_PATH.items() if "{" + k + "}" in route.path}
        if name in ("start_sources", "stop_tag", "stop_tag without a model"):
            expected = {}
        assert dict(match) == expected, name
        doc = doc_of(app, request.method, canonical)
        query = {k for k, _ in parse_qsl(urlsplit(request.path_qs).query)}
        known, required = fields(doc.query)
        assert query <= known and required <= query, (name, query, known, required)
        if request.body:
            body = set(json.loads(request.body))
            known, required = fields(doc.body)
            assert body <= known and body <= set(route.body) and required <= body, name
    # the operations use every GET of the table but the uploads (sync_targets' own)
    assert {r for r in ROUTES if "upload" not in r.path} == walked


async def test_every_route_of_the_table_is_a_native_route_with_its_parameters(station):
    app = create_app(station)
    for route in ROUTES:
        params = {name: EXAMPLE_PATH[name] for name in PARAM.findall(route.path)}
        match = await resolved(app, route.method, route.path_qs(**params))
        assert match.route.resource.canonical.rstrip("/") == route.path
        assert dict(match) == {k: str(v) for k, v in params.items()}
        doc = doc_of(app, route.method, route.path)
        assert set(doc.path_types) <= set(params), route
        for sent, model in ((set(route.query), doc.query), (set(route.body), doc.body)):
            known, required = fields(model)
            assert sent <= known and required <= sent, (route, sent, known, required)


def test_a_path_parameter_never_adds_a_segment_and_an_unknown_query_is_refused():
    assert RECORD_VIDEO.path_qs(record_id="../source/1") == "/api/v1/record/..%2Fsource%2F1/video"
    with pytest.raises(ValueError):
        SOURCE_VIDEO.path_qs({"delay": "1", "accessToken": "x"}, source_id=1)
