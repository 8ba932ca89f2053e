"""`GET /api/v1/storage`: where the disk stands — free space of the recordings' and the
catalog's filesystems against `disk_floor_mb`, what the recordings use, the retention
settings and the oldest record kept. Only translates HTTP to `StorageService.status`."""

from __future__ import annotations

from aiohttp import web

from api.keys import STATION
from api.native.params import add_route, ok
from api.routing import call
from app.recordings.storage import StorageOut


async def get_storage(request: web.Request) -> web.Response:
    return ok(await call(request.app[STATION].storage.status))


def setup(app: web.Application) -> None:
    add_route(app, "GET", "/api/v1/storage", get_storage, role="operator", tag="storage", response=StorageOut,
              summary="Free space, the disk floor, retention and the oldest record",
              description="Total and free bytes of the filesystem holding the recordings and "
              "of the one holding the SQLite catalog (null for a database server), each "
              "flagged `below_floor` under `disk_floor_mb`. While anything records, the "
              "station looks once a second: under the floor it runs retention, then stops "
              "the recordings on the short filesystem (`failed`, `disk full: N MB free`; "
              "`stopped_utc`/`stopped_reason` here). `used_by_recordings_bytes` counts the "
              "files of every record not deleted, as they are on disk now.")
