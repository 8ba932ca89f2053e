"""What a Device Connect handler gets: the request, its parameters, the checked access token,
and the way back to the station. Blocking service calls go through `api.routing.call`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable

from aiohttp import web

from api import routing
from api.device_connect import media
from api.device_connect.params import Params
from app.dialects.device_connect.dc_auth import AccessToken
from app.station import Station

if TYPE_CHECKING:
    from api.device_connect.events import EventHub


@dataclass
class Call:
    request: web.Request
    station: Station
    hub: "EventHub"
    params: Params
    profile: str  # the profile as the client spelled it
    attribute: str | None  # lower case
    token: AccessToken | None

    @property
    def base(self) -> str:
        return routing.base_url(self.request)

    @property
    def target(self) -> str | None:
        """The `target` as given: None when absent (the default recorder), "" when present
        but empty (which the service refuses: errorCode 10)."""
        return self.params.given("target")

    @property
    def token_text(self) -> str | None:
        return self.token.token if self.token else None

    # The `uri`s an answer hands to the client, each remembered for its token's client (the
    # only media a Device Connect token may fetch), each carrying the client's own token.
    def _hand(self, kind: str, key: str | int) -> None:
        media.handed(self.station.dc_auth, self.token, kind, key)

    def record_uri(self, record_id: str) -> str:
        self._hand("record", record_id)
        return media.record_uri(self.base, record_id, self.token_text)

    def picture_uri(self, source_id: int) -> str:
        self._hand("picture", source_id)
        return media.picture_uri(self.base, source_id, self.token_text)

    def mjpeg_uri(self, source_id: int, fps: float) -> str:
        self._hand("mjpeg", source_id)
        return media.mjpeg_uri(self.base, source_id, fps, self.token_text)

    def photo_uri(self, name: str) -> str:
        self._hand("photo", name)
        return media.photo_uri(self.base, name, self.token_text)

    @property
    def client_origin(self) -> str:
        """The web page asking: the SDK's `X-GotAPI-Origin`, else the browser's `Origin`."""
        headers = self.request.headers
        return headers.get("X-GotAPI-Origin") or headers.get("Origin") or ""


Handler = Callable[[Call], Awaitable["dict | web.StreamResponse"]]
