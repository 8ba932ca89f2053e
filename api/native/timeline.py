"""`GET /api/v1/source/{source_id}/timeline`: the spans of a source over a time range
(records, gaps, bookmarks, now) for other tools; the GUI's timeline draws the same spans.
Only translates HTTP to `TimelineService.spans` (app.recordings.timeline)."""

from __future__ import annotations


from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from api.keys import STATION
from api.native.params import IsoDatetime, add_route, ok, path_int, read_query, unprocessable
from api.routing import call
from app.errors import InvalidInput
from app.recordings.timeline import MAX_BOOKMARKS, MAX_RANGE, TimelineOut
from app.schemas import check_range


class TimelineQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    begin: IsoDatetime = Field(description="start of the range (ISO 8601; without an offset: UTC)")
    end: IsoDatetime = Field(description=f"end of the range, after `begin`, at most "
                          f"{MAX_RANGE.days} days later")


async def timeline(request: web.Request) -> web.Response:
    source_id = path_int(request, "source_id")
    query = read_query(request, TimelineQuery)
    try:
        try:
            begin, end = check_range(query.begin, query.end, MAX_RANGE)
        except (OverflowError, ValueError):  # year 1 at +01:00 has no UTC: out of range
            raise InvalidInput("the range lies outside the calendar", field="begin") from None
    except InvalidInput as exc:
        raise unprocessable([{"loc": ["query", exc.field], "msg": exc.message,
                              "type": exc.kind}]) from None
    return ok(await call(request.app[STATION].timeline.spans, source_id, begin, end))


def setup(app: web.Application) -> None:
    add_route(app, "GET", "/api/v1/source/{source_id}/timeline", timeline, role="viewer", tag="source",
              summary="The timeline of a source over a time range", query=TimelineQuery,
              path_types={"source_id": int}, response=TimelineOut,
              description="Records overlapping [begin, end) (tag, status, begin and end — now "
              "while recording —, whether retention keeps the file, the station holding it), "
              "the outages inside them (`gaps`), the source's bookmarks in the range, and the "
              f"station's clock (`now_utc`). The range may span {MAX_RANGE.days} days at most. "
              f"At most {MAX_BOOKMARKS} bookmarks (and 1 MiB of their titles and notes) are "
              "answered, the first in time order; `bookmarks_truncated` says when more are in "
              "the range.")
