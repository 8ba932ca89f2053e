"""Device Connect events: registrations (`PUT onrecordingchange` / `PUT onphoto`) and the
WebSocket `/gotapi/websocket` they are pushed over.

A client opens the WebSocket and sends `{"accessToken": "..."}`; the station answers
`{"result":0}` (or an error envelope, then closes). Only a valid, unexpired access token
binds a socket — a `sessionKey` or a bare client id does not — and the socket receives only
the events its token's client registered (registrations belong to the client, so they
survive a token renewal). Each event's `uri` carries the socket's own token and nobody
else's; a socket whose token has expired or gone is told so (12/11) and closed at its next
event. A socket that sends no token within `HANDSHAKE_TIMEOUT_S` is closed; at most
`MAX_SOCKETS_PER_TOKEN` sockets per token and `MAX_SOCKETS` in all are open at once.

Core events are heard on the station's bus from any thread, hopped onto the API loop and
handled one by one in order, so `recording` always comes before `pause` before `stop`,
whichever front end did it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from aiohttp import WSMsgType, web

from api.device_connect import media
from api.device_connect.envelope import DIALECT, Code, DcError, service_id
from api.keys import STATION
from api.security import PRINCIPAL, Principal, client_address, refused
from app.dialects.device_connect.dc_auth import AccessDenied, AccessToken, TokenExpired
from app.dialects.device_connect.dc_recorder import PHOTO_MIME, VIDEO_MIME
from app.errors import StationError
from app.events import (
    Event,
    PhotoTaken,
    RecordingMuted,
    RecordingPaused,
    RecordingStarted,
    RecordingStopped,
)
from app.station import Station

log = logging.getLogger(__name__)
HANDSHAKE_TIMEOUT_S = 5.0
MAX_SOCKETS_PER_TOKEN = 64
MAX_SOCKETS = 1024
MAX_REGISTRATIONS = 10_000
ATTRIBUTES = ("onrecordingchange", "onphoto")


@dataclass
class Registration:
    client_id: str
    attribute: str  # onrecordingchange | onphoto
    profile: str  # as the client spelled it: the SDK routes events by /gotapi/<profile>/<attr>
    base_url: str
    session_key: str | None = None  # the seed's: echoed in the events, it names no socket


@dataclass(eq=False)
class Subscriber:
    """One open event socket and the token that bound it."""

    ws: web.WebSocketResponse
    client_id: str
    token: str


class EventHub:
    def __init__(self, station: Station):
        self.station = station
        self._registrations: OrderedDict[tuple[str, str], Registration] = OrderedDict()
        self._sockets: dict[str, set[Subscriber]] = {}  # by client id
        self._per_token: dict[str, int] = {}
        self._open = 0
        self._queue: asyncio.Queue[Event] | None = None
        self._task: asyncio.Task | None = None
        self._unsubscribe = None

    # --- life cycle (the app's startup / cleanup) -----------------------------------------
    async def start(self, _app: web.Application | None = None) -> None:
        loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._task = loop.create_task(self._pump())

        def heard(event: Event) -> None:
            if isinstance(event, (RecordingStarted, RecordingStopped, RecordingPaused,
                                  RecordingMuted, PhotoTaken)) and not loop.is_closed():
                loop.call_soon_threadsafe(self._queue.put_nowait, event)

        self._unsubscribe = self.station.bus.subscribe(heard)

    async def stop(self, _app: web.Application | None = None) -> None:
        if self._unsubscribe:
            self._unsubscribe()
        if self._task:
            self._task.cancel()
        sockets = [sub.ws for group in self._sockets.values() for sub in group]
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)

    # --- registrations -------------------------------------------------------------------
    def register(self, registration: Registration) -> None:
        key = (registration.client_id, registration.attribute)
        self._registrations[key] = registration
        self._registrations.move_to_end(key)
        while len(self._registrations) > MAX_REGISTRATIONS:
            self._registrations.popitem(last=False)

    def unregister(self, client_id: str, attribute: str) -> bool:
        return self._registrations.pop((client_id, attribute), None) is not None

    # --- the WebSocket ---------------------------------------------------------------------
    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        # any origin: Device Connect pages are anywhere; a short close so shutdown never waits long
        ws = web.WebSocketResponse(heartbeat=30.0, timeout=2.0, max_msg_size=64 << 10)
        if not ws.can_prepare(request).ok:
            raise DcError(Code.INVALID_REQUEST_PARAMETER, "a WebSocket upgrade is expected here")
        await ws.prepare(request)
        try:
            sub = await self._handshake(request, ws)
        except ConnectionError:  # the client went away mid-handshake
            return ws
        if sub is None:
            await ws.close()
            return ws
        try:
            async for message in ws:
                if message.type == WSMsgType.ERROR:
                    break  # anything a client sends after the handshake is ignored
        finally:
            self._drop(sub)
        return ws

    async def _handshake(self, request: web.Request,
                         ws: web.WebSocketResponse) -> Subscriber | None:
        """The subscriber of a good first message (answered `{"result":0}`), else None after
        an error envelope."""
        try:  # one deadline for the whole handshake: pings do not extend it
            async with asyncio.timeout(HANDSHAKE_TIMEOUT_S):
                message = await ws.receive()
        except asyncio.TimeoutError:
            refused(request, DIALECT, f"event socket: no accessToken within "
                                      f"{HANDSHAKE_TIMEOUT_S:g} s")
            await self._refuse(ws, Code.EMPTY_ACCESS_TOKEN,
                               f"no accessToken was sent within {HANDSHAKE_TIMEOUT_S:g} s")
            return None
        if message.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                            WSMsgType.ERROR):
            return None
        try:
            body = json.loads(message.data) if message.type == WSMsgType.TEXT else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            refused(request, DIALECT, "event socket: a malformed first message")
            await self._refuse(ws, Code.INVALID_REQUEST_PARAMETER,
                               'the first message must be {"accessToken": "..."}')
            return None
        token = self._token(request, body)
        if isinstance(token, tuple):
            await self._refuse(ws, *token)
            return None
        if self._per_token.get(token.token, 0) >= MAX_SOCKETS_PER_TOKEN:
            await self._refuse(ws, Code.ILLEGAL_SERVER_STATE, f"at most {MAX_SOCKETS_PER_TOKEN} "
                                                              "event sockets per access token")
            return None
        if self._open >= MAX_SOCKETS:
            await self._refuse(ws, Code.ILLEGAL_SERVER_STATE,
                               f"at most {MAX_SOCKETS} event sockets are open at once")
            return None
        sub = Subscriber(ws, token.client_id, token.token)
        self._sockets.setdefault(sub.client_id, set()).add(sub)
        self._per_token[sub.token] = self._per_token.get(sub.token, 0) + 1
        self._open += 1
        request[PRINCIPAL] = Principal(DIALECT, client_address(request), token.who)
        try:
            await ws.send_str(json.dumps({"result": 0}))
        except BaseException:
            self._drop(sub)
            raise
        return sub

    def _token(self, request: web.Request, body: dict) -> AccessToken | tuple[Code, str]:
        """The valid token of the first message, else the errorCode and message to answer."""
        given = body.get("accessToken")
        if not isinstance(given, str) or not given:
            refused(request, DIALECT, "event socket: no accessToken (a sessionKey or clientId "
                                      "does not open one)")
            return Code.EMPTY_ACCESS_TOKEN, "accessToken is required"
        try:
            return self.station.dc_auth.check(given)
        except TokenExpired as exc:
            refused(request, DIALECT, f"event socket: {exc.message}")
            return Code.EXPIRED_ACCESS_TOKEN, exc.message
        except AccessDenied as exc:
            refused(request, DIALECT, f"event socket: {exc.message}")
            return Code.AUTHORIZATION, exc.message

    def _drop(self, sub: Subscriber) -> None:
        group = self._sockets.get(sub.client_id)
        if group is None or sub not in group:
            return
        group.discard(sub)
        if not group:
            del self._sockets[sub.client_id]
        left = self._per_token.get(sub.token, 0) - 1
        if left > 0:
            self._per_token[sub.token] = left
        else:
            self._per_token.pop(sub.token, None)
        self._open -= 1

    @staticmethod
    async def _refuse(ws: web.WebSocketResponse, code: Code, message: str) -> None:
        await ws.send_str(json.dumps({"result": 1, "errorCode": int(code), "errorMessage": message}))

    # --- delivery --------------------------------------------------------------------------
    async def _pump(self) -> None:
        assert self._queue is not None
        while True:
            event = await self._queue.get()
            try:
                await self._deliver(event)
            except Exception:  # noqa: BLE001 - one bad event must not stop the others
                log.exception("Device Connect event delivery failed for %r", event)

    async def _deliver(self, event: Event) -> None:
        attribute = "onphoto" if isinstance(event, PhotoTaken) else "onrecordingchange"
        targets = [r for r in self._registrations.values()
                   if r.attribute == attribute and r.client_id in self._sockets]
        if not targets:
            return
        if isinstance(event, PhotoTaken):
            body = await self._photo_body(event)
        else:
            body = await self._media_body(event)
        if body is None:
            return
        sid = service_id(self.station.settings)
        for reg in targets:
            message = {"serviceId": sid, "profile": reg.profile, "attribute": attribute,
                       **({"sessionKey": reg.session_key} if reg.session_key else {})}
            texts: dict[str, str] = {}  # by token: each socket hears its own token only
            for sub in list(self._sockets.get(reg.client_id, ())):
                if sub.ws.closed:
                    continue
                token = self._still_valid(sub)
                if token is None:
                    await self._expired(sub)
                    continue
                if sub.token not in texts:
                    texts[sub.token] = json.dumps(message | self._with_uris(body, reg, token),
                                                  ensure_ascii=False)
                try:
                    await sub.ws.send_str(texts[sub.token])
                except (ConnectionError, RuntimeError):
                    pass  # the socket went away; its handler cleans it up

    def _still_valid(self, sub: Subscriber) -> AccessToken | None:
        try:
            return self.station.dc_auth.check(sub.token)
        except StationError:
            return None

    async def _expired(self, sub: Subscriber) -> None:
        """The token that bound the socket is no longer valid: say so and close it (the
        client reconnects with its new token)."""
        self._drop(sub)
        try:
            await self._refuse(sub.ws, Code.EXPIRED_ACCESS_TOKEN,
                               "the access token of this socket has expired")
            await sub.ws.close()
        except (ConnectionError, RuntimeError):
            pass

    def _with_uris(self, body: dict, reg: Registration, token: AccessToken) -> dict:
        """The event's `uri` with the receiver's own token, handed to its client."""
        auth = self.station.dc_auth
        if "photo" in body:
            photo = dict(body["photo"])
            name = photo.pop("_name")
            media.handed(auth, token, "photo", name)
            photo["uri"] = media.photo_uri(reg.base_url, name, token.token)
            return {"photo": photo}
        item = dict(body["media"])
        record_id = item.get("recordId")
        if record_id:
            media.handed(auth, token, "record", record_id)
            item["uri"] = media.record_uri(reg.base_url, record_id, token.token)
        return {"media": item}

    @staticmethod
    async def _photo_body(event: PhotoTaken) -> dict:
        return {"photo": {"_name": Path(event.path).name, "path": event.path,
                          "mimeType": PHOTO_MIME, "target": str(event.source_id)}}

    async def _media_body(self, event: Event) -> dict | None:
        if isinstance(event, RecordingStarted):
            status = "recording"
        elif isinstance(event, RecordingStopped):
            status = "stop"
        elif isinstance(event, RecordingPaused):
            status = "pause" if event.paused else "resume"
        elif isinstance(event, RecordingMuted):
            status = "mutetrack" if event.muted else "unmutetrack"
        else:
            return None
        item = {"status": status, "mimeType": VIDEO_MIME, "target": str(event.source_id),
                "recordId": event.record_id, "tag": event.tag_name, "origin": event.origin}
        try:
            record = await asyncio.to_thread(self.station.recordings.get, event.record_id)
        except StationError:
            record = None
        if record is not None:
            item["path"] = record.location or ""
            if record.error and status == "stop":
                item["errorMessage"] = record.error
        return {"media": item}


def hub_setup(app: web.Application, key: web.AppKey) -> EventHub:
    hub = EventHub(app[STATION])
    app[key] = hub
    app.on_startup.append(hub.start)
    app.on_shutdown.append(hub.stop)
    return hub
