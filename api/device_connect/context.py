"""What a Device Connect handler gets: the request, its parameters, the checked access token,
and the way back to the station."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING, Awaitable, Callable

from aiohttp import web

from api.device_connect import media
from api.device_connect.params import Params
from app.services.dc_auth import AccessToken
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
        return media.base_url(self.request)

    @property
    def target(self) -> str | None:
        return self.params.text("target")

    @property
    def token_text(self) -> str | None:
        return self.token.token if self.token else None

    @property
    def client_origin(self) -> str:
        """The web page asking: the SDK's `X-GotAPI-Origin`, else the browser's `Origin`."""
        headers = self.request.headers
        return headers.get("X-GotAPI-Origin") or headers.get("Origin") or ""


async def blocking(fn, *args, **kwargs):
    """A service call (catalog, files) off the event loop."""
    return await asyncio.to_thread(fn, *args, **kwargs)


Handler = Callable[[Call], Awaitable["dict | web.StreamResponse"]]
