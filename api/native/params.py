"""Reading native requests: a JSON body and/or query parameters into one pydantic model, and
path ids; every failure becomes a FastAPI-style 422 naming the field."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any, Awaitable, Callable, TypeVar

from aiohttp import web
from pydantic import BaseModel, BeforeValidator, ValidationError

from api.native.routedoc import Binary, Link, RouteDoc, first_line, route_docs
from api.permissions import check_fields, check_group_name
from api.routing import Action, add_both_slashes
from app.identity import QUERY as ACTING_QUERY
from app.accounts.roles import RANK, role_for
from app.services.audit import action_name
from api.security import AUDIT_FIELDS, STATE_CHANGING
from app.errors import InvalidInput


def _iso_only(value: Any) -> Any:
    """A time in a query is ISO 8601 as documented; pydantic alone would also take `0.5` as
    seconds since 1970."""
    if not isinstance(value, str) or "-" not in value.lstrip("-"):
        raise ValueError("an ISO 8601 date and time, e.g. 2026-11-26T10:15:04Z")
    return value


# `2026-11-26T10:15:04.075Z`; without an offset: UTC. Every native query time is one of these.
IsoDatetime = Annotated[datetime, BeforeValidator(_iso_only)]

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def unprocessable(detail: list[dict]) -> web.HTTPUnprocessableEntity:
    """A FastAPI-style 422 to raise: `detail` is a list of {loc, msg, type}."""
    return web.HTTPUnprocessableEntity(text=json.dumps({"detail": detail}),
                                       content_type="application/json")


async def read_model(request: web.Request, model: type[M]) -> M:
    """Query parameters first, the JSON body over them (the guard lets no other body type
    through); unknown fields ignored. The names it carries are noted for the audit trail."""
    data: dict = dict(request.query)
    data.pop("accessToken", None)
    data.pop(ACTING_QUERY, None)  # a station's signed word for whom it asks (api.native.auth)
    if request.body_exists:
        raw = await request.read()
        if raw.strip():
            try:
                body = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise unprocessable([{"loc": ["body", exc.pos], "msg": f"JSON decode error: {exc.msg}",
                                      "type": "json_invalid"}]) from None
            except UnicodeDecodeError as exc:
                raise unprocessable([{"loc": ["body", exc.start], "msg": "the body is not UTF-8 "
                                      "(or UTF-16/32) text", "type": "json_invalid"}]) from None
            except RecursionError:
                raise unprocessable([{"loc": ["body"], "msg": "JSON nested too deeply",
                                      "type": "json_invalid"}]) from None
            if not isinstance(body, dict):
                raise unprocessable([{"loc": ["body"], "msg": "Input should be a valid dictionary "
                                      "or object to extract fields from",
                                      "type": "model_attributes_type"}])
            data.update(body)
    request[AUDIT_FIELDS] = data
    check_fields(request, data)  # a source out of the caller's scope: 404 (api.permissions)
    await check_group_name(request, data)
    return model.model_validate(data)


def read_query(request: web.Request, model: type[M], *, repeated: tuple[str, ...] = ()) -> M:
    """Query parameters only (GET/DELETE); a bad one is a 422 located in `query`. Those named
    in `repeated` may be given more than once and are read as lists (every value)."""
    data = {k: request.query.getall(k) if k in repeated else v
            for k, v in request.query.items() if k not in ("accessToken", ACTING_QUERY)}
    check_fields(request, data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise unprocessable([{"loc": ["query", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                             for e in exc.errors(include_url=False, include_context=False,
                                                 include_input=False)]) from None


def path_int(request: web.Request, name: str) -> int:
    raw = request.match_info[name]
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInput("Input should be a valid integer, unable to parse string as an integer",
                           field=name, kind="int_parsing") from None
    if not -(2**63) <= value < 2**63:
        raise InvalidInput("Input should be a valid 64-bit integer", field=name, kind="int_parsing")
    return value


def add_route(app: web.Application, method: str, path: str, handler: Handler, *,
              summary: str | None = None, description: str | None = None, tag: str | None = None,
              body: type[BaseModel] | None = None, query: type[BaseModel] | None = None,
              path_types: dict[str, type] | None = None, response: Any = None,
              response_description: str = "Successful Response",
              binary: Binary | tuple[Binary, ...] = (), errors: tuple[int, ...] = (),
              headers: dict[str, str] | None = None,
              extra_responses: dict[int, dict] | None = None,
              links: dict[str, Link] | None = None, action: Action | None = None,
              role: str | None = None) -> None:
    """Register `path` with and without its trailing slash, and file what it takes and returns
    for the OpenAPI document (see `RouteDoc`; the summary defaults to the handler's docstring).
    A state-changing route declares its audit `action`, a name of the one vocabulary
    (`app.services.audit.ACTIONS`) the GUI's operations use too; without one it is refused.
    Every route needs a role (app.accounts.roles): an action's own, or `role` for a read.

        add_route(app, "GET", "/api/v1/source/{source_id}", get_source, role="viewer",
                  summary="A source", path_types={"source_id": int}, response=SourceOut)
        add_route(app, "POST", "/api/v1/source", create_source, action="create source", ...)
    """
    if action is None and method.upper() in STATE_CHANGING:
        raise ValueError(f"{method} {path} changes state: declare its audit action "
                         "(add_route(..., action=...), a name of app.services.audit.ACTIONS)")
    if action is None and role is None:
        raise ValueError(f"{method} {path}: declare the role a user needs for it "
                         "(add_route(..., role=...), app.accounts.roles)")
    if isinstance(action, str):
        action_name(action)  # a name outside the vocabulary fails here, before its role is asked
    needed = role_for(action) if action is not None else role
    if role is not None and action is not None and RANK[role] > RANK[needed]:
        needed = role  # a route may ask more than its action does, never less
    bare = add_both_slashes(app, method, path, handler, action=action, role=needed)
    parts = [p for p in bare.split("/") if p and p not in ("api", "v1")]
    route_docs(app).append(RouteDoc(
        method=method.upper(), path=bare,
        summary=summary or first_line(handler.__doc__), description=description or "",
        tag=tag or (parts[0] if parts else ""), body=body, query=query,
        path_types=dict(path_types or {}), response=response,
        response_description=response_description,
        binary=(binary,) if isinstance(binary, Binary) else tuple(binary), errors=tuple(errors),
        headers=dict(headers or {}), extra_responses=dict(extra_responses or {}),
        links=dict(links or {})))


def ok(data) -> web.Response:
    """JSON of a pydantic model, a list of them, or plain JSON values."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    elif isinstance(data, list):
        data = [d.model_dump(mode="json") if isinstance(d, BaseModel) else d for d in data]
    return web.json_response(data)
