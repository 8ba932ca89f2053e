"""`/api/openapi.json`: the OpenAPI 3.1 document of the native dialect, generated from the
`RouteDoc`s that `add_route` files and from the very pydantic models that validate requests and
shape responses; a route cannot be served without showing up here (a test checks it).

Schemas come from one `TypeAdapter.json_schemas` call, so a model used in several places is one
component (`#/components/schemas/SourceOut`); a model whose request and response forms differ
becomes `Name-Input` / `Name-Output`, as pydantic names them.
"""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web
from pydantic import TypeAdapter

from api.keys import STATION
from api.native.models import ErrorMessage, HTTPValidationError
from api.native.routedoc import ROUTE_DOCS, RouteDoc, operation_id

REF = "#/components/schemas/{model}"
OPENAPI_PATH = "/api/openapi.json"
CACHE = web.AppKey("native_openapi_cache", dict)
INT64 = {"type": "integer", "format": "int64", "minimum": -(2**63), "maximum": 2**63 - 1}
REQUEST_ID = {"$ref": "#/components/headers/X-Request-Id"}
ERROR_TEXT = {
    400: "The body cannot be parsed (a malformed form or Content-Type)",
    401: "Not authenticated: a token is configured and the request has none or a wrong one",
    403: "Forbidden: the user's role may not do this (its role's need is in `detail`), or a web "
         "page of another site asked",
    404: "Unknown id or name",
    413: "Request body larger than 1 MiB",
    416: "Range not satisfiable",
    422: "Validation error: the field named in `loc` is wrong; nothing was changed",
    507: "Less free disk space than the configured floor: nothing was started",
}
ABOUT = """Native REST API of the recording station (the video-recording-service API).

* A trailing slash is optional on every path (`/api/v1/source/5` = `/api/v1/source/5/`).
* POST/PUT/DELETE bodies are JSON; their scalar fields may also be sent as query parameters
  (or as a form), the body winning over the query.
* Every response carries `X-Request-Id` (the client's own when it sent one).
* Times are UTC ISO 8601 with milliseconds and `Z`. Passwords are returned as `******`; sending
  `******` back keeps the stored one.
* When the station has a token configured, send it as `Authorization: Bearer <token>`,
  `X-Auth-Token: <token>` or `?accessToken=<token>`; otherwise (loopback) no token is needed.
"""


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def _deref(schema: dict, components: dict) -> dict:
    """The component a `$ref` schema points at (the schema itself when it is inline)."""
    ref = schema.get("$ref", "")
    return components.get(ref.rsplit("/", 1)[-1], {}) if ref else schema


def _error(status: int, model_ref: str) -> dict:
    return {"description": ERROR_TEXT.get(status, "Error"),
            "content": _json({"$ref": REF.format(model=model_ref)})}


class _Schemas:
    """Collects every type of every route, then resolves them in one pass."""

    def __init__(self) -> None:
        self.inputs: list[tuple[tuple[int, str], str, TypeAdapter]] = []

    def add(self, key: tuple[int, str], mode: str, tp: Any) -> None:
        self.inputs.append((key, mode, TypeAdapter(tp)))

    def resolve(self) -> tuple[dict, dict]:
        keyed, defs = TypeAdapter.json_schemas(self.inputs, ref_template=REF)
        return {key: schema for (key, _mode), schema in keyed.items()}, defs.get("$defs", {})


def build_document(app: web.Application) -> dict:
    station = app[STATION]
    docs: list[RouteDoc] = sorted(app.get(ROUTE_DOCS, []), key=lambda d: (d.path, d.method))
    schemas = _Schemas()
    schemas.add((-1, "422"), "serialization", HTTPValidationError)
    schemas.add((-1, "error"), "serialization", ErrorMessage)
    for i, doc in enumerate(docs):
        if doc.body is not None:
            schemas.add((i, "body"), "validation", doc.body)
        if doc.query is not None:
            schemas.add((i, "query"), "validation", doc.query)
        if doc.response is not None:
            schemas.add((i, "response"), "serialization", doc.response)
    resolved, components = schemas.resolve()

    query_models = {resolved[(i, "query")].get("$ref", "").rsplit("/", 1)[-1]
                    for i, doc in enumerate(docs) if doc.query is not None}
    paths: dict[str, dict] = {}
    for i, doc in enumerate(docs):
        paths.setdefault(doc.path, {})[doc.method.lower()] = _operation(i, doc, resolved, components)
    for name in query_models:  # expanded into parameters, not referenced
        components.pop(name, None)

    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": f"{station.name} — native API", "version": station.version,
                 "description": ABOUT},
        "servers": [{"url": "/", "description": "this station"}],
        "tags": [{"name": t} for t in sorted({d.tag for d in docs if d.tag})],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(components.items())),
            "headers": {"X-Request-Id": {
                "description": "the request's id: the client's `X-Request-Id` or a new one",
                "required": True, "schema": {"type": "string"}}},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "xAuthToken": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"},
                "accessToken": {"type": "apiKey", "in": "query", "name": "accessToken"},
            },
        },
    }
    if station.settings.token:
        document["security"] = [{"bearer": []}, {"xAuthToken": []}, {"accessToken": []}]
    return document


def _parameters(i: int, doc: RouteDoc, resolved: dict, components: dict) -> list[dict]:
    params = []
    for name in doc.path_params:
        schema = dict(INT64) if doc.path_types.get(name) is int else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    if doc.query is not None:
        model_schema = _deref(resolved[(i, "query")], components)
        required = set(model_schema.get("required", []))
        for name, prop in model_schema.get("properties", {}).items():
            prop = dict(prop)
            param = {"name": name, "in": "query", "required": name in required, "schema": prop}
            if "description" in prop:
                param["description"] = prop.pop("description")
            params.append(param)
    for name, text in doc.headers.items():
        params.append({"name": name, "in": "header", "required": False,
                       "description": text, "schema": {"type": "string"}})
    return params


def _operation(i: int, doc: RouteDoc, resolved: dict, components: dict) -> dict:
    op: dict[str, Any] = {"operationId": operation_id(doc.method, doc.path), "summary": doc.summary}
    if doc.tag:
        op["tags"] = [doc.tag]
    if doc.description:
        op["description"] = doc.description
    params = _parameters(i, doc, resolved, components)
    if params:
        op["parameters"] = params
    if doc.body is not None:
        body_schema = _deref(resolved[(i, "body")], components)
        op["requestBody"] = {"required": bool(body_schema.get("required")),
                             "content": _json(resolved[(i, "body")])}

    content: dict = {}
    if doc.response is not None:
        content.update(_json(resolved[(i, "response")]))
    for binary in doc.binary:
        content[binary.media_type] = {"schema": {"type": "string", "contentMediaType": binary.media_type}}
        if binary.description:
            content[binary.media_type]["schema"]["description"] = binary.description
    responses: dict[str, dict] = {"200": {"description": doc.response_description, "content": content}}
    if doc.links:
        responses["200"]["links"] = {
            name: {"operationId": operation_id(link.method, link.path), "parameters": link.parameters,
                   **({"description": link.description} if link.description else {})}
            for name, link in doc.links.items()}
    has_input = bool(doc.path_params or doc.body or doc.query)
    if doc.path_params:
        responses["404"] = _error(404, "ErrorMessage")
    if has_input or 422 in doc.errors:
        responses["422"] = _error(422, "HTTPValidationError")
    if doc.body is not None:
        responses["400"] = _error(400, "ErrorMessage")
        responses["413"] = _error(413, "ErrorMessage")
    responses["401"] = _error(401, "ErrorMessage")
    responses["403"] = _error(403, "ErrorMessage")
    for status in doc.errors:
        responses.setdefault(str(status), _error(status, "ErrorMessage"))
    for status, extra in doc.extra_responses.items():
        merged = {**responses.get(str(status), {}), **copy.deepcopy(extra)}
        merged.setdefault("description", ERROR_TEXT.get(status, ""))
        responses[str(status)] = merged
    for response in responses.values():
        response["headers"] = {"X-Request-Id": REQUEST_ID, **response.get("headers", {})}
    op["responses"] = dict(sorted(responses.items()))
    return op


async def openapi_json(request: web.Request) -> web.Response:
    cache = request.app[CACHE]
    if "document" not in cache:
        cache["document"] = build_document(request.app)
    return web.json_response(cache["document"])


def setup(app: web.Application) -> None:
    app[CACHE] = {}
    app.router.add_get(OPENAPI_PATH, openapi_json)
