"""`GET /api/v1/station`: the stations sharing this catalog, as the registry sees them now
(`app.site.stations`). Only translates HTTP to `StationRegistry.list`; and makes every
answer to another station's signed request prove this station gave it (api.native.auth)."""

from __future__ import annotations

from aiohttp import web

from api.keys import STATION
from api.native.auth import prove_station_answer
from api.native.params import add_route, ok
from api.routing import call
from app.site.stations import StationOut


async def list_stations(request: web.Request) -> web.Response:
    station = request.app[STATION]
    key = station.evidence.public_key  # each station knows only its own
    return ok([row.model_copy(update={"evidence_public_key": key}) if row.this else row
               for row in await call(station.site.list)])


def setup(app: web.Application) -> None:
    app.on_response_prepare.append(prove_station_answer)  # answers to other stations' requests
    add_route(app, "GET", "/api/v1/station", list_stations, role="viewer", tag="station",
              response=list[StationOut], summary="The stations sharing this catalog",
              description="Every station registered in the catalog (one, unless several share "
              "a PostgreSQL catalog: docs/scale-out.md): where the others reach it, whether "
              "it is online (a heartbeat within the last 15 s; a station stopped cleanly is "
              "offline at once), the sources it owns, how many records it is writing now and "
              "its disk space. `this` marks the station answering; its entry also carries "
              "`evidence_public_key`, what its evidence packages are signed with.")
