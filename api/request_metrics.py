"""Counting the API's requests for monitoring (`GET /metrics`): how many, by dialect, method
and status class, and how long they took, by dialect.

Labels are bounded whatever clients send: the dialect comes from the path's prefix, never
the path itself (ids in paths would make a series per record), a method outside the HTTP
ones is `other`, and a status is its class (`2xx`). The latency histogram is labelled by
dialect only: each label value multiplies its buckets.

Latency is the time to the response's headers: for a streamed answer (MJPEG, a download, a
WebSocket) the handler prepares the response at once and then streams for as long as the
client reads; the stream's length is not the station's latency. A request whose client went
away before its answer counts as 499 (nginx's "client closed request").
"""

from __future__ import annotations

import asyncio
import time

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram

# path prefix -> dialect, first match wins; anything else (/, /metrics, the docs) is "other"
DIALECTS = (("/api/v1", "native"), ("/gotapi", "device_connect"), ("/v1", "huawei_live"),
            ("/v2", "huawei_rtc"))
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# seconds: a JSON answer takes milliseconds, a start of a large group or a picture more
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CLIENT_GONE = 499

_ANSWERED = web.RequestKey("metrics_answered", float)


def dialect_of(path: str) -> str:
    for prefix, dialect in DIALECTS:
        if path == prefix or path.startswith(prefix + "/"):
            return dialect
    return "other"


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


class RequestMetrics:
    """The request counter and latency histogram, registered in the app's own registry
    (several stations in one process each count their own)."""

    def __init__(self, registry: CollectorRegistry):
        self.requests = Counter(
            "recording_station_api_requests", "API requests answered, by dialect, method "
            "and status class", ("dialect", "method", "status"), registry=registry)
        self.latency = Histogram(
            "recording_station_api_request_duration_seconds", "Time from a request to its "
            "response's headers, by dialect", ("dialect",), buckets=BUCKETS, registry=registry)

    def observe(self, request: web.BaseRequest, status: int, seconds: float) -> None:
        dialect = dialect_of(request.path)
        method = request.method if request.method in METHODS else "other"
        self.requests.labels(dialect, method, status_class(status)).inc()
        self.latency.labels(dialect).observe(seconds)


REQUEST_METRICS = web.AppKey("request_metrics", RequestMetrics)


def install(app: web.Application, registry: CollectorRegistry) -> None:
    """Count `app`'s requests into `registry` (`request_metrics_middleware` does the
    counting, `_answered` notes when headers go out)."""
    app[REQUEST_METRICS] = RequestMetrics(registry)
    app.on_response_prepare.append(_answered)


async def _answered(request: web.Request, _response: web.StreamResponse) -> None:
    request.setdefault(_ANSWERED, time.perf_counter())


@web.middleware
async def request_metrics_middleware(request: web.Request, handler):
    """Outermost: every request counts, refused ones (401, 421, 429) included."""
    metrics = request.config_dict.get(REQUEST_METRICS)
    if metrics is None:
        return await handler(request)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except asyncio.CancelledError:
        status = CLIENT_GONE
        raise
    finally:
        metrics.observe(request, status, request.get(_ANSWERED, time.perf_counter()) - started)
