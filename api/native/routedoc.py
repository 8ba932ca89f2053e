"""What each native route declares about itself, kept beside the route so that the OpenAPI
document is generated from the same pydantic models that validate the requests.

`add_route(..., summary=..., body=..., query=..., response=...)` in `api.native.params` files
one `RouteDoc` per (method, path) on the application; `api.native.openapi` walks them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from pydantic import BaseModel

PATH_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[^}]*)?\}")


@dataclass(frozen=True)
class Binary:
    """A non-JSON response body: its media type and what it holds."""

    media_type: str
    description: str = ""


@dataclass(frozen=True)
class Link:
    """An OpenAPI link from a success response to another operation, e.g. the id a POST
    returned into the GET of that id: `Link("GET", "/api/v1/source/{source_id}",
    {"source_id": "$response.body#/id"})`. Clients (and the fuzzer) follow them."""

    method: str
    path: str
    parameters: dict[str, str]
    description: str = ""


def operation_id(method: str, path: str) -> str:
    """`get_api_v1_source_source_id`: unique per (method, path), stable for links."""
    return method.lower() + "_" + re.sub(r"[^A-Za-z0-9]+", "_", path.rstrip("/")).strip("_")


@dataclass(frozen=True)
class RouteDoc:
    """The contract of one operation.

    - `body`: the pydantic model of the JSON body (scalar fields are also read from the query).
    - `query`: a pydantic model whose fields are query parameters.
    - `path_types`: python type per path parameter (`int` or `str`; unlisted ones are `str`).
    - `response`: the JSON success type (a model, `list[Model]`, `bool`, `list[str]`, `str` ...).
    - `binary`: success bodies that are not JSON (`Binary("image/jpeg")`, ...).
    - `errors`: extra documented error statuses (404/422 are added when the operation has
      path parameters or input; 401 is on every operation).
    - `headers`: request headers the operation reads, name -> description.
    - `extra_responses`: raw OpenAPI response objects keyed by status, for special cases
      (206/416 of a ranged download).
    - `links`: `Link`s from the success response, by name.
    """

    method: str
    path: str
    summary: str = ""
    description: str = ""
    tag: str = ""
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    path_types: dict[str, type] = field(default_factory=dict)
    response: Any = None
    response_description: str = "Successful Response"
    binary: tuple[Binary, ...] = ()
    errors: tuple[int, ...] = ()
    headers: dict[str, str] = field(default_factory=dict)
    extra_responses: dict[int, dict] = field(default_factory=dict)
    links: dict[str, Link] = field(default_factory=dict)

    @property
    def path_params(self) -> list[str]:
        return PATH_PARAM.findall(self.path)

    @property
    def documented(self) -> bool:
        """A summary and a declared success body: what the completeness test demands."""
        return bool(self.summary) and (self.response is not None or bool(self.binary))


ROUTE_DOCS = web.AppKey("native_route_docs", list)


def route_docs(app: web.Application) -> list[RouteDoc]:
    """The registry of `app` (created on first use, before the app is frozen)."""
    docs = app.get(ROUTE_DOCS)
    if docs is None:
        docs = []
        app[ROUTE_DOCS] = docs
    return docs


def first_line(text: str | None) -> str:
    return (text or "").strip().split("\n", 1)[0].strip()
