"""One audit vocabulary (#22 item 3): every state-changing route of every dialect declares its
action where it is added, every operation the GUI audits names one, all of them from
`app.services.audit.ACTIONS`; and a start through the API and a start from the GUI write the
same action. Walks the real router of `create_app` on a real station."""

from __future__ import annotations

import asyncio
import inspect

import pytest
from aiohttp import web

from api.app import create_app
from api.device_connect import recording as dc_recording
from api.native.params import add_route
from api.routing import add_both_slashes, declared_action
from api.security import STATE_CHANGING
from app.audited import GUI_ACTIONS, AuditedStation
from app.services.audit import ACTIONS, UNNAMED, OneOf, declared_names
from tests.conftest import TESTSRC
from tests.support.api_client import wait_online


def undeclared(app: web.Application) -> list[str]:
    """`METHOD path` of each state-changing route of `app` (and of the dialects mounted in it)
    that declares no action, or one outside the vocabulary."""
    missing = []
    for resource in app.router.resources():
        sub = resource.get_info().get("app")
        if isinstance(sub, web.Application):  # a dialect mounted here: its own declarations
            missing += undeclared(sub)
            continue
        for route in resource:
            if route.method not in STATE_CHANGING | {"*"}:
                continue
            action = declared_action(app, route)
            if action is None or not declared_names(action) <= set(ACTIONS):
                missing.append(f"{route.method} {resource.canonical}")
    return missing


@pytest.fixture
def app(station):
    return create_app(station)


def test_every_state_changing_route_declares_an_action_of_the_vocabulary(app):
    native = [r for r in app.router.routes() if r.method in STATE_CHANGING
              and r.resource.canonical.startswith("/api/v1/")]
    assert len(native) >= 2 * 20  # each with and without its trailing slash
    assert undeclared(app) == []
    names = set().union(*(declared_names(declared_action(app, r)) for r in native))
    assert {"start recording", "stop recording", "create source", "delete file",
            "protect record", "unprotect record"} <= names
    assert UNNAMED not in names  # every native route has a name of its own


def test_a_route_without_an_action_is_refused_and_found(app):
    """A new native route that declares none fails where it is added; one added around
    `add_route` (straight on the router) is what the walk above reports."""
    async def handler(request: web.Request) -> web.Response:
        return web.Response()

    with pytest.raises(ValueError, match="declare its audit action"):
        add_route(app, "POST", "/api/v1/new-thing", handler, summary="new", response=bool)
    with pytest.raises(ValueError, match="not an audit action"):
        add_route(app, "POST", "/api/v1/new-thing", handler, action="POST /api/v1/new-thing")
    add_both_slashes(app, "DELETE", "/api/v1/new-thing", handler)
    assert undeclared(app) == ["DELETE /api/v1/new-thing", "DELETE /api/v1/new-thing/"]


def test_device_connect_names_every_state_changing_attribute():
    changing = {(attribute, method) for attribute, methods in dc_recording.ATTRIBUTES.items()
                for method in methods if method in STATE_CHANGING}
    assert changing == set(dc_recording.AUDIT_ACTIONS)
    assert set(dc_recording.AUDIT_ACTIONS.values()) <= set(ACTIONS)


def test_the_gui_audits_real_operations_with_names_of_the_vocabulary(station):
    for service_name, methods in GUI_ACTIONS.items():
        service = getattr(station, service_name)
        for method_name, audited in methods.items():
            method = getattr(service, method_name, None)
            assert callable(method), f"station.{service_name}.{method_name} is no operation"
            for key in (audited.action.names if isinstance(audited.action, OneOf) else ()):
                assert isinstance(audited.action.field, str)
                assert audited.action.field in inspect.signature(method).parameters, \
                    (service_name, method_name, audited.action.field, key)
            assert declared_names(audited.action) <= set(ACTIONS), (service_name, method_name)


async def test_an_api_start_and_a_gui_start_write_the_same_action(aiohttp_client, app, station):
    client = await aiohttp_client(app)
    source = await (await client.post("/api/v1/source",
                                      json={"name": "c1", "uri_rtsp": TESTSRC})).json()
    group = (await (await client.post("/api/v1/group", json={"name": "g"})).json())[0]
    assert (await client.post(f"/api/v1/group/{group['id']}/source/{source['id']}")).status == 200
    await wait_online(client, source["id"])
    gui = AuditedStation(station, who="operator")

    resp = await client.post("/api/v1/record", json={"tag_name": "api", "group_name": "g"})
    assert resp.status == 200, await resp.text()
    [by_api] = await resp.json()
    [by_gui] = await asyncio.to_thread(gui.recordings.start, "gui", "g")
    resp = await client.put(f"/api/v1/record/{by_api['id']}", json={"protected": False})
    assert resp.status == 200, await resp.text()
    await asyncio.to_thread(gui.recordings.set_protected, by_gui.id, False)
    assert (await client.put("/api/v1/record", json={"tag_name": "api"})).status == 200
    await asyncio.to_thread(gui.recordings.stop, "gui")

    page = await (await client.get("/api/v1/audit?page_size=100")).json()
    trail = [(e["dialect"], e["action"], e["detail"]) for e in reversed(page["items"])]
    assert trail == [
        ("native", "create source", "POST /api/v1/source"),
        ("native", "create group", "POST /api/v1/group"),
        ("native", "add source to group", "POST /api/v1/group/{group_id}/source/{source_id}"),
        ("native", "start recording", "POST /api/v1/record"),
        ("gui", "start recording", None),
        ("native", "unprotect record", "PUT /api/v1/record/{record_id}"),
        ("gui", "unprotect record", None),
        ("native", "stop recording", "PUT /api/v1/record"),
        ("gui", "stop recording", None),
    ]
    starts = await (await client.get("/api/v1/audit?action=start%20recording")).json()
    assert {e["dialect"] for e in starts["items"]} == {"native", "gui"} and starts["total"] == 2


async def test_huawei_and_device_connect_changes_are_named_by_what_they_ask(aiohttp_client, app):
    """One route each for two things: Huawei Live by its `action` query parameter, Device
    Connect's dispatcher by the attribute and method; whatever the answer."""
    client = await aiohttp_client(app)
    body = {"publish_domain": "d.example", "app": "live", "stream": "nobody"}
    for action in ("STOP", "START", "PAUSE"):
        await client.post(f"/v1/p1/record/control?action={action}", json=body)
    await client.put("/gotapi/mediastreamrecording/stop?serviceId=x")
    await client.put("/gotapi/mediastreamrecording/nosuch")
    page = await (await client.get("/api/v1/audit?page_size=10")).json()
    assert [(e["action"], e["detail"]) for e in reversed(page["items"])] == [
        ("stop recording", "POST /v1/{project_id}/record/control action=STOP "
                           "publish_domain=d.example app=live stream=nobody"),
        ("start recording", "POST /v1/{project_id}/record/control action=START "
                            "publish_domain=d.example app=live stream=nobody"),
        (UNNAMED, "POST /v1/{project_id}/record/control"),  # not an action: not its words
        ("stop recording", "PUT /gotapi/{tail}"),
        (UNNAMED, "PUT /gotapi/{tail}"),
    ]
