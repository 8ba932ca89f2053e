"""Device Connect events: registrations (`PUT onrecordingchange` / `PUT onphoto`) and the
WebSocket `/gotapi/websocket` they are pushed over.

A client opens the WebSocket and sends `{"accessToken": "..."}`; the station answers
`{"result":0}` (or an error envelope, then closes). Registrations belong to the client (the
token's client id), so they survive a token renewal; a legacy `sessionKey` works too, on both
sides. Core events are heard on the station's bus from any thread, hopped onto the API loop
and handled one by one in order, so `recording` always comes before `pause` before `stop`,
whichever front end did it.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from aiohttp import WSMsgType, web

from api.device_connect import media
from api.device_connect.envelope import Code, DcError, service_id
from api.keys import STATION
from app.errors import StationError
from app.events import (
    Event,
    PhotoTaken,
    RecordingMuted,
    RecordingPaused,
    RecordingStarted,
    RecordingStopped,
)
from app.services.dc_auth import AccessDenied, TokenExpired, TokenMissing
from app.services.dc_recorder import PHOTO_MIME, VIDEO_MIME
from app.station import Station

log = logging.getLogger(__name__)
HANDSHAKE_TIMEOUT_S = 30.0
ATTRIBUTES = ("onrecordingchange", "onphoto")


@dataclass
class Registration:
    client_key: str
    attribute: str  # onrecordingchange | onphoto
    profile: str  # as the client spelled it: the SDK routes events by /gotapi/<profile>/<attr>
    base_url: str
    token: str
    session_key: str | None = None


class EventHub:
    def __init__(self, station: Station):
        self.station = station
        self._registrations: dict[tuple[str, str], Registration] = {}
        self._sockets: dict[str, set[web.WebSocketResponse]] = {}
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
        sockets = [ws for group in self._sockets.values() for ws in group]
        await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)

    # --- registrations -------------------------------------------------------------------
    def register(self, registration: Registration) -> None:
        self._registrations[(registration.client_key, registration.attribute)] = registration

    def unregister(self, client_key: str, attribute: str) -> bool:
        return self._registrations.pop((client_key, attribute), None) is not None

    # --- the WebSocket ---------------------------------------------------------------------
    async def websocket(self, request: web.Request) -> web.WebSocketResponse:
        # any origin: Device Connect pages are anywhere; a short close so shutdown never waits long
        ws = web.WebSocketResponse(heartbeat=30.0, timeout=2.0, max_msg_size=64 << 10)
        if not ws.can_prepare(request).ok:
            raise DcError(Code.INVALID_REQUEST_PARAMETER, "a WebSocket upgrade is expected here")
        await ws.prepare(request)
        try:
            key = await self._handshake(ws)
        except ConnectionError:  # the client went away mid-handshake
            return ws
        if key is None:
            await ws.close()
            return ws
        self._sockets.setdefault(key, set()).add(ws)
        try:
            async for message in ws:
                if message.type == WSMsgType.ERROR:
                    break  # anything a client sends after the handshake is ignored
        finally:
            sockets = self._sockets.get(key)
            if sockets is not None:
                sockets.discard(ws)
                if not sockets:
                    del self._sockets[key]
        return ws

    async def _handshake(self, ws: web.WebSocketResponse) -> str | None:
        """The client key of a good first message (answered `{"result":0}`), else None after
        an error envelope."""
        try:
            message = await ws.receive(timeout=HANDSHAKE_TIMEOUT_S)
        except asyncio.TimeoutError:
            await self._refuse(ws, Code.EMPTY_ACCESS_TOKEN, "no accessToken was sent")
            return None
        if message.type != WSMsgType.TEXT:
            return None
        try:
            body = json.loads(message.data)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            await self._refuse(ws, Code.INVALID_REQUEST_PARAMETER,
                               'the first message must be {"accessToken": "..."}')
            return None
        key = self._client_key(body)
        if isinstance(key, tuple):
            await self._refuse(ws, *key)
            return None
        await ws.send_str(json.dumps({"result": 0}))
        return key

    def _client_key(self, body: dict) -> str | tuple[Code, str]:
        auth = self.station.dc_auth
        token, session_key = body.get("accessToken"), body.get("sessionKey")
        if not token and isinstance(session_key, str) and session_key:
            return "session:" + session_key
        if not isinstance(token, str) or not token:
            return Code.EMPTY_ACCESS_TOKEN, "accessToken is required"
        if auth.is_client(token) and auth.client_token(token) is not None:
            return token  # the old demo application opens its socket with its client id
        try:
            return auth.check(token).client_id
        except TokenMissing as exc:
            return Code.EMPTY_ACCESS_TOKEN, exc.message
        except TokenExpired as exc:
            return Code.EXPIRED_ACCESS_TOKEN, exc.message
        except AccessDenied as exc:
            return Code.AUTHORIZATION, exc.message

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
        targets = [r for r in self._registrations.values() if r.attribute == attribute]
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
            sockets = set(self._sockets.get(reg.client_key, ()))
            if reg.session_key:
                sockets |= self._sockets.get("session:" + reg.session_key, set())
            if not sockets:
                continue
            message = {"serviceId": sid, "profile": reg.profile, "attribute": attribute,
                       **({"sessionKey": reg.session_key} if reg.session_key else {})}
            message.update(self._with_uris(body, reg))
            text = json.dumps(message, ensure_ascii=False)
            for ws in sockets:
                if not ws.closed:
                    try:
                        await ws.send_str(text)
                    except (ConnectionError, RuntimeError):
                        pass  # the socket went away; its handler cleans it up

    def _token_for(self, reg: Registration) -> str:
        newest = self.station.dc_auth.client_token(reg.client_key)
        return newest.token if newest is not None else reg.token

    def _with_uris(self, body: dict, reg: Registration) -> dict:
        token = self._token_for(reg)
        if "photo" in body:
            photo = dict(body["photo"])
            photo["uri"] = media.photo_uri(reg.base_url, photo.pop("_name"), token)
            return {"photo": photo}
        item = dict(body["media"])
        record_id = item.get("recordId")
        if record_id:
            item["uri"] = media.record_uri(reg.base_url, record_id, token)
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
