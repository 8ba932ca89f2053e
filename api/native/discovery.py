"""`/api/v1/discovery`: find ONVIF cameras on the station's network and read their media
profiles (issue #16, `app.services.discovery`). Only translates HTTP to the service; the
password a client sends goes to the camera and nowhere else: every URI in an answer is masked.

Errors, all the client's to fix: a wrong login a 422 on `password`; an address outside the
local network (the station is no proxy to the internet) a 422 on `address`; an address where
no ONVIF camera answers a 422 on `address` too (`camera_unreachable`), one message whatever
the reason, so the endpoint tells nothing about which hosts and ports answer (the log does).

Both run on the discovery lane (`api.executors`): a camera that never answers holds a thread
of that lane only, and beyond `api_network_calls` at once the answer is a 503 at once.
"""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from api.errors import detail_422
from api.executors import DISCOVERY, slow
from api.keys import STATION
from api.native.params import add_route, ok, read_model
from app.schemas import mask_uri
from app.services.discovery import MAX_WAIT_S, CameraError, CameraProfiles, FoundCamera

class ProbeIn(BaseModel):
    wait_s: float = Field(2.0, ge=0.2, le=MAX_WAIT_S,
                          description="How long to listen for answers, in seconds")


class ProfilesIn(BaseModel):
    address: str = Field(min_length=1, max_length=300, description=(
        "The camera: host, host:port or its device service URL "
        "(`http://192.168.1.64/onvif/device_service`), as `/discovery` lists it. Only "
        "addresses of the local network (loopback, private, link-local)"))
    user: str = Field("", max_length=100)
    password: str = Field("", max_length=200, description="Sent to the camera only; never echoed")


async def probe(request: web.Request) -> web.Response:
    """Look for ONVIF cameras on the network"""
    data = await read_model(request, ProbeIn)
    return ok(await slow(request, DISCOVERY, request.app[STATION].discovery.probe, data.wait_s))


async def profiles(request: web.Request) -> web.Response:
    """Read a camera's media profiles"""
    data = await read_model(request, ProfilesIn)
    try:
        found = await slow(request, DISCOVERY, request.app[STATION].discovery.read_profiles,
                           data.address, data.user, data.password)
    except CameraError as exc:
        return detail_422(["body", "address"], exc.message, "camera_unreachable")
    return ok(masked(found))


def masked(found: CameraProfiles) -> CameraProfiles:
    """The same answer with the password out of every URI."""
    return found.model_copy(update={
        "uri_rtsp": mask_uri(found.uri_rtsp), "uri_preview": mask_uri(found.uri_preview),
        "profiles": [p.model_copy(update={"stream_uri": mask_uri(p.stream_uri)})
                     for p in found.profiles]})


def setup(app: web.Application) -> None:
    add_route(app, "POST", "/api/v1/discovery", probe,
              action="discover cameras",
              tag="discovery", body=ProbeIn,
              response=list[FoundCamera], errors=(503,), summary="Look for ONVIF cameras on the network",
              description="Sends a WS-Discovery probe for ONVIF video transmitters from the "
              "station (multicast 239.255.255.250:3702, the station's own network segment) and "
              "answers every camera heard within `wait_s` (at most 3 s): its name and model "
              "from its ONVIF scopes and the address `/discovery/profiles` takes. Cameras "
              "whose answers the URI policy refuses are left out. 503 when the station has no "
              "network to send the probe on, or when `api_network_calls` discovery requests are "
              "in progress already.")
    add_route(app, "POST", "/api/v1/discovery/profiles", profiles,
              action="read camera profiles",
              tag="discovery",
              body=ProfilesIn, response=CameraProfiles, errors=(503,),
              summary="Read a camera's media profiles",
              description="Logs in to the ONVIF camera at `address` (HTTP digest, or a "
              "WS-Security UsernameToken when the camera wants one) and reads its media "
              "profiles: name, resolution, encoding, RTSP stream URI and JPEG snapshot URL. "
              "Also answers the source they suggest: the highest-resolution profile as "
              "`uri_rtsp`, the lowest as `uri_preview` (null with one profile). The login is "
              "in those URIs as a saved source holds it, the password masked as `******`: "
              "put it back before `POST /api/v1/source`. A refused login is a 422 on "
              "`password`; an address outside the local network, or one where no ONVIF "
              "camera answers, a 422 on `address`. 503 when `api_network_calls` discovery "
              "requests are in progress already.")
