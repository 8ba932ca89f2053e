"""Native (FastAPI-style) error shapes, and the middleware that maps domain exceptions onto
them (`native_answer`, which the MQTT bus answers with too). Other HTTP dialects install their
own translators on their own sub-paths."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from api.keys import REQUEST_ID
from app.catalog import CATALOG_DOWN
from app.errors import Conflict, InvalidInput, NotFound, StationError, StorageFull, Unavailable

log = logging.getLogger(__name__)


def detail_422(loc: list, msg: str, type_: str) -> web.Response:
    return web.json_response({"detail": [{"loc": loc, "msg": msg, "type": type_}]}, status=422)


def validation_detail(exc: ValidationError, where: str = "body") -> list[dict]:
    return [{"loc": [where, *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_context=False, include_input=False)]


def native_answer(exc: Exception) -> tuple[int, Any] | None:
    """The native API's status and `detail` for a domain error (`app.errors`) or a request that
    does not validate; None for any other exception. The one translator: the native
    middleware answers it over HTTP, the MQTT bus in its replies (`api.mqtt.commands`)."""
    if isinstance(exc, NotFound):
        return 404, exc.message
    if isinstance(exc, StorageFull):
        return 507, exc.message
    if isinstance(exc, Unavailable):
        return 503, exc.message
    if isinstance(exc, (InvalidInput, Conflict)):
        where = "path" if exc.field and exc.field.endswith("_id") else "body"
        return 422, [{"loc": [where, exc.field or "__root__"], "msg": exc.message,
                      "type": exc.kind}]
    if isinstance(exc, StationError):
        return 422, [{"loc": ["body"], "msg": exc.message, "type": exc.kind}]
    if isinstance(exc, ValidationError):
        return 422, validation_detail(exc)
    return None


def native_error(exc: Exception) -> web.Response:
    answer = native_answer(exc)
    if answer is None:
        raise exc
    status, detail = answer
    headers = {"Retry-After": "5"} if status == 503 else None  # Unavailable: worth retrying
    return web.json_response({"detail": detail}, status=status, headers=headers)


@web.middleware
async def request_id_middleware(request: web.Request, handler):
    request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    request[REQUEST_ID] = request_id
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        exc.headers.setdefault("X-Request-Id", request_id)
        raise  # aiohttp renders it; returning one is deprecated
    except CATALOG_DOWN as exc:  # a database server away: say so, retry later (no traceback)
        log.warning("%s %s: the catalog cannot be reached (%s)", request.method, request.path,
                    str(getattr(exc, "orig", None) or exc).splitlines()[0] if str(exc) else exc)
        response = web.json_response({"detail": "the catalog cannot be reached now",
                                      "request_id": request_id}, status=503,
                                     headers={"Retry-After": "5"})
    except Exception:  # noqa: BLE001 - never leak a traceback to a client
        log.exception("unhandled error in %s %s", request.method, request.path)
        response = web.json_response({"detail": "internal error", "request_id": request_id}, status=500)
    response.headers.setdefault("X-Request-Id", request_id)
    return response


async def request_id_on_prepare(request: web.Request, response: web.StreamResponse) -> None:
    """`on_response_prepare`: also responses a handler sends itself (an MJPEG stream, a ranged
    file) carry the request id, whose headers leave before the middleware sees them."""
    request_id = request.get(REQUEST_ID)
    if request_id:
        response.headers.setdefault("X-Request-Id", request_id)


NATIVE_PREFIXES = ("/api/", "/test/")


def _json_http_error(request: web.Request, exc: web.HTTPException) -> web.Response | None:
    """aiohttp's own plain-text errors (no such route 404, 405, 413 body too large) in the
    native shape `{"detail": "..."}`, keeping their headers (`Allow` of a 405)."""
    if exc.status < 400 or exc.content_type == "application/json" \
            or not request.path.startswith(NATIVE_PREFIXES):
        return None
    message = exc.reason
    if exc.status == 413:
        message = f"Request body larger than {request.client_max_size} bytes"
    headers = {k: v for k, v in exc.headers.items()
               if k.lower() not in ("content-type", "content-length")}
    return web.json_response({"detail": message}, status=exc.status, headers=headers)


@web.middleware
async def native_errors_middleware(request: web.Request, handler):
    try:
        return await handler(request)
    except (StationError, ValidationError) as exc:
        return native_error(exc)
    except json.JSONDecodeError as exc:
        return detail_422(["body", exc.pos], f"JSON decode error: {exc.msg}", "json_invalid")
    except web.HTTPException as exc:
        converted = _json_http_error(request, exc)
        if converted is None:
            raise
        return converted
