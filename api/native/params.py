"""Reading native requests: a JSON body and/or query parameters into one pydantic model, and
path ids; every failure becomes a FastAPI-style 422 naming the field."""

from __future__ import annotations

import asyncio
import json
from typing import Awaitable, Callable, TypeVar

from aiohttp import web
from pydantic import BaseModel

from app.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


async def read_model(request: web.Request, model: type[M]) -> M:
    """Query parameters first, the JSON (or form) body over them; unknown fields ignored."""
    data: dict = dict(request.query)
    data.pop("accessToken", None)
    if request.body_exists:
        raw = await request.read()
        if raw.strip():
            ctype = request.content_type
            if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                data.update(dict(await request.post()))
            else:
                try:
                    body = json.loads(raw)
                except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                    raise InvalidInput(f"the body is not valid JSON: {exc}", field="body",
                                       kind="json_invalid") from None
                if not isinstance(body, dict):
                    raise InvalidInput("the body must be a JSON object", field="body",
                                       kind="model_attributes_type")
                data.update(body)
    return model.model_validate(data)


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


def query_str(request: web.Request, name: str, *, required: bool = True) -> str | None:
    value = request.query.get(name)
    if (value is None or not value.strip()) and required:
        raise InvalidInput(f"Field required: {name}", field=name, kind="missing")
    return value


def add_route(app: web.Application, method: str, path: str, handler: Handler) -> None:
    """Register `path` with and without its trailing slash."""
    bare = path.rstrip("/")
    app.router.add_route(method, bare, handler)
    app.router.add_route(method, bare + "/", handler)


async def call(fn, *args, **kwargs):
    """Run a blocking service call off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


def ok(data) -> web.Response:
    """JSON of a pydantic model, a list of them, or plain JSON values."""
    if isinstance(data, BaseModel):
        data = data.model_dump(mode="json")
    elif isinstance(data, list):
        data = [d.model_dump(mode="json") if isinstance(d, BaseModel) else d for d in data]
    return web.json_response(data)
