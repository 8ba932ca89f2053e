"""`/api/v1/event`: the station's events and alarms (#23 item 3). Only translates HTTP to
`EventService` (app.alarms.event_service): the list with its filters and cursor, the
acknowledgement (one, or all a filter selects), and a live stream.

The stream (`GET /api/v1/event/stream`) is Server-Sent Events: one message per change of an
event (opened, closed, acknowledged), `id:` the event's id, `data:` `{"change", "event"}`.
A client that reconnects with `Last-Event-ID` (or asks with `after_id`) first gets the events
after that id, oldest first, then the live ones; a comment every `HEARTBEAT_S` keeps proxies
from closing a quiet stream. Each stream has a bounded queue: a client too slow to take its
messages is disconnected (it reconnects with its Last-Event-ID and loses nothing), never
buffered without end; at most `MAX_STREAMS` streams are open at a time (503 beyond).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from api.keys import STATION
from api.permissions import visible_sources
from api.native.params import IsoDatetime, add_route, ok, path_int, read_query
from api.native.routedoc import Binary
from api.routing import call
from api.security import PRINCIPAL
from app.alarms.event_service import DEFAULT_LIMIT, MAX_LIMIT, EventFilter
from app.events import EventChanged
from app.schemas import EventOut, EventSeverity

log = logging.getLogger(__name__)

MAX_STREAMS = 32
QUEUE_SIZE = 256  # messages waiting for one client before it is dropped
HEARTBEAT_S = 15.0
REPLAY_PAGES = 10  # at most this many pages of `MAX_LIMIT` replayed after a Last-Event-ID
ID_LIMIT = 2**63 - 1
KIND = r"^[a-z][a-z0-9_]{0,31}$"


class EventFilterQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    source_id: int | None = Field(None, ge=1, le=ID_LIMIT, description="of this source only")
    kind: str | None = Field(None, pattern=KIND, description="of this kind only: "
                             "`camera_lost`, `camera_back`, `recording_started`, …")
    begin: IsoDatetime | None = Field(None, description="lasting at or after this moment "
                                      "(ISO 8601; without an offset: UTC)")
    end: IsoDatetime | None = Field(None, description="begun before this moment (ISO 8601)")
    open: bool | None = Field(None, description="true: only open events (no end yet); "
                              "false: only ended ones")
    unacknowledged: bool | None = Field(None, description="true: only those nobody "
                                        "acknowledged; false: only acknowledged ones")
    severity: EventSeverity | None = Field(None, description="of this severity only "
                                           "(`alarm`: what the GUI's status bar counts)")

    def filters(self) -> dict:
        return self.model_dump(include={"source_id", "kind", "begin", "end", "open",
                                        "unacknowledged", "severity"})


class EventQuery(EventFilterQuery):
    after_id: int | None = Field(None, ge=0, le=ID_LIMIT, description="the events right after "
                                 "this id (a poller's cursor: the highest id it has seen)")
    before_id: int | None = Field(None, ge=1, le=ID_LIMIT, description="only events before "
                                  "this id (paging back)")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="at most this many")


class StreamQuery(EventFilterQuery):
    after_id: int | None = Field(None, ge=0, le=ID_LIMIT, description="replay the events "
                                 "after this id first (as `Last-Event-ID`, which wins)")


class AckAllOut(BaseModel):
    acknowledged: int = Field(description="how many events were acknowledged now")


async def list_events(request: web.Request) -> web.Response:
    query = read_query(request, EventQuery)
    return ok(await call(request.app[STATION].events.list, **query.filters(),
                         after_id=query.after_id, limit=query.limit, before_id=query.before_id,
                         sources=visible_sources(request)))


def _actor(request: web.Request) -> str:
    """Who acknowledges: the credential's name (`station-token`, `ak:…`), never a secret."""
    principal = request.get(PRINCIPAL)
    return principal.who if principal is not None else "api"


async def acknowledge_event(request: web.Request) -> web.Response:
    event_id = path_int(request, "event_id")
    return ok(await call(request.app[STATION].events.acknowledge, event_id, _actor(request)))


async def acknowledge_all(request: web.Request) -> web.Response:
    query = read_query(request, EventFilterQuery)
    count = await call(request.app[STATION].events.acknowledge_all, _actor(request),
                       **query.filters(), sources=visible_sources(request))
    return ok(AckAllOut(acknowledged=count))


# --- the live stream ---------------------------------------------------------------------
@dataclass(eq=False)
class StreamClient:
    chosen: EventFilter
    queue: asyncio.Queue = field(default_factory=lambda: asyncio.Queue(QUEUE_SIZE))
    overflowed: bool = False

    def offer(self, item: EventChanged | None) -> None:
        """On the loop: queue a change the filter selects (None: end the stream)."""
        if item is not None and not self.chosen.matches(item.event):
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True
            self.queue = asyncio.Queue(1)  # the waiting handler wakes on the end mark
            self.queue.put_nowait(None)


class EventStreams:
    """The open streams of one application: the bus's EventChanged handed to each on the
    API's loop (the bus calls on any thread)."""

    def __init__(self) -> None:
        self.clients: set[StreamClient] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._unsubscribe = None

    async def on_startup(self, app: web.Application) -> None:
        self._loop = asyncio.get_running_loop()
        self._unsubscribe = app[STATION].bus.subscribe(self._on_event)

    async def on_shutdown(self, _app: web.Application) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        for client in list(self.clients):
            client.offer(None)

    def _on_event(self, event) -> None:
        if not isinstance(event, EventChanged) or not self.clients or self._loop is None:
            return
        try:
            self._loop.call_soon_threadsafe(self._hand_out, event)
        except RuntimeError:  # the loop closed: the API is stopping
            pass

    def _hand_out(self, event: EventChanged) -> None:
        for client in list(self.clients):
            client.offer(event)


STREAMS = web.AppKey("event_streams", EventStreams)


def _message(change: str, event: EventOut) -> bytes:
    data = json.dumps({"change": change, "event": event.model_dump(mode="json")},
                      separators=(",", ":"))
    return f"id: {event.id}\ndata: {data}\n\n".encode()


def _last_event_id(request: web.Request, query: StreamQuery) -> int | None:
    raw = request.headers.get("Last-Event-ID")
    if raw is None or not raw.strip():
        return query.after_id
    try:
        value = int(raw.strip())
    except ValueError:
        value = -1
    if not 0 <= value <= ID_LIMIT:
        raise web.HTTPUnprocessableEntity(text=json.dumps({"detail": [{
            "loc": ["header", "Last-Event-ID"], "msg": "an event id (an integer >= 0)",
            "type": "int_parsing"}]}), content_type="application/json")
    return value


async def event_stream(request: web.Request) -> web.StreamResponse:
    query = read_query(request, StreamQuery)
    cursor = _last_event_id(request, query)
    chosen = await call(EventFilter, **query.filters(),  # a bad filter: 422 before streaming
                        sources=visible_sources(request))
    streams = request.app[STREAMS]
    if len(streams.clients) >= MAX_STREAMS:
        raise web.HTTPServiceUnavailable(
            text=json.dumps({"detail": f"{MAX_STREAMS} event streams are open already"}),
            content_type="application/json", headers={"Retry-After": "5"})
    client = StreamClient(chosen)
    streams.clients.add(client)  # before the replay: nothing falls between the two
    try:
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no"})
        await response.prepare(request)
        await response.write(b": events of this station's site\n\n")
        replayed = await _replay(request, response, cursor, query)
        heartbeat = request.app.get(HEARTBEAT, HEARTBEAT_S)
        while True:
            try:
                item = await asyncio.wait_for(client.queue.get(), heartbeat)
            except asyncio.TimeoutError:
                await response.write(b": keep-alive\n\n")
                continue
            if item is None:
                if client.overflowed:
                    log.warning("event stream: a client too slow for its events was dropped")
                break
            if item.change == "opened" and item.event.id <= replayed:
                continue  # sent by the replay already
            await response.write(_message(item.change, item.event))
        return response
    finally:
        streams.clients.discard(client)


async def _replay(request: web.Request, response: web.StreamResponse, cursor: int | None,
                  query: StreamQuery) -> int:
    """Send the events after `cursor`, oldest first; the highest id sent (the cursor)."""
    if cursor is None:
        return -1
    events = request.app[STATION].events
    for _ in range(REPLAY_PAGES):
        page = await call(events.list, **query.filters(), after_id=cursor, limit=MAX_LIMIT,
                          sources=visible_sources(request))
        for event in reversed(page):
            await response.write(_message("opened" if event.end is None else "replayed", event))
            cursor = max(cursor, event.id)
        if len(page) < MAX_LIMIT:
            break
    return cursor


HEARTBEAT = web.AppKey("event_stream_heartbeat_s", float)  # tests make it short


def setup(app: web.Application) -> None:
    streams = app[STREAMS] = EventStreams()
    app.on_startup.append(streams.on_startup)
    app.on_shutdown.append(streams.on_shutdown)
    eid = {"event_id": int}
    add_route(app, "GET", "/api/v1/event", list_events, role="viewer", tag="event", query=EventQuery,
              response=list[EventOut], summary="List the site's events and alarms",
              description="Newest first; every filter given must match. The cursor: ids only "
              "grow; `after_id` answers the `limit` events right after it (poll with the "
              "highest id seen and none is skipped), `before_id` pages back. 422 on a bad "
              "filter (an unknown `kind`, `end` not after `begin`, a bad id or limit).")
    add_route(app, "GET", "/api/v1/event/stream", event_stream, role="viewer", tag="event", query=StreamQuery,
              summary="The events live (Server-Sent Events)",
              binary=Binary("text/event-stream", "one message per change of an event: `id:` "
                            "the event's id, `data:` {\"change\": opened | closed | "
                            "acknowledged | replayed, \"event\": Event}; comments as heartbeats"),
              headers={"Last-Event-ID": "resume: the events after this id are sent first"},
              errors=(503,),
              description="The same filters as the list (but the cursor). On connecting with "
              "`Last-Event-ID` (a browser's EventSource sends it when it reconnects) or "
              "`after_id`, the events after it come first, oldest first, then every change "
              f"as it happens. A comment every {HEARTBEAT_S:g} s keeps a quiet stream open. "
              f"A client that lets {QUEUE_SIZE} messages wait is disconnected (it resumes with "
              f"its Last-Event-ID); at most {MAX_STREAMS} streams at a time (503 beyond).")
    add_route(app, "PUT", "/api/v1/event/{event_id}/ack", acknowledge_event,
              action="acknowledge event", tag="event", path_types=eid, response=EventOut,
              summary="Acknowledge an event",
              description="Marks the event seen by the caller (its credential's name, "
              "`station-token` …); the first acknowledgement stays.")
    add_route(app, "PUT", "/api/v1/event/ack", acknowledge_all, action="acknowledge event",
              tag="event", query=EventFilterQuery, response=AckAllOut,
              summary="Acknowledge every event a filter selects",
              description="Every unacknowledged event matching the filters (all of them "
              "without one).")
