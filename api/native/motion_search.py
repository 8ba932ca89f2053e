"""Motion search (#28): `GET /api/v1/motion/search` (when did something move in these parts of
the picture, on these sources) and `GET /api/v1/source/{source_id}/motion/heatmap` (where does
motion happen). Only translates HTTP to `app.motion_search.MotionSearchService`, which checks
every value (its `InvalidInput` names the field: a 422) and reads the stored grids; no frame is
decoded. A source outside the caller's scope is the 404 of an unknown one.
"""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from api.executors import FORWARD, slow
from api.keys import STATION
from api.native.params import IsoDatetime, add_route, ok, path_int, read_query
from api.native.records import forwarded
from api.native.routedoc import Binary
from api.routing import call
from app.errors import InvalidInput
from app.motion_search import GRID_COLS, GRID_ROWS
from app.motion_search.service import MAX_MERGE_S, MAX_RANGE, MAX_REGIONS, MAX_SOURCES
from app.schemas import iso_utc

PNG = "image/png"
REPEATED = ("source_id", "region")  # query parameters that may be given more than once


class SearchQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    source_id: list[int] = Field(min_length=1, max_length=MAX_SOURCES, description=(
        f"a source to search; repeat for several (at most {MAX_SOURCES})"))
    begin: IsoDatetime = Field(description="start of the range (ISO 8601; without an offset: UTC)")
    end: IsoDatetime = Field(description=f"end of the range, after `begin`, at most "
                             f"{MAX_RANGE.days} days later")
    region: list[str] = Field(min_length=1, max_length=MAX_REGIONS, description=(
        "`x0,y0,x1,y1`: a rectangle of the picture as shares of its width and height (0..1, "
        f"x0 < x1, y0 < y1); repeat for several (at most {MAX_REGIONS}), motion in any counts"))
    min_cells: int = Field(1, ge=1, le=GRID_COLS * GRID_ROWS, description=(
        f"a second counts when at least this many of the regions' cells changed (the picture "
        f"is {GRID_COLS}x{GRID_ROWS} cells)"))
    merge_s: float = Field(5.0, ge=0, le=MAX_MERGE_S, allow_inf_nan=False, description=(
        "busy seconds at most this many quiet seconds apart are one hit"))


class HeatmapQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    begin: IsoDatetime = Field(description="start of the range (ISO 8601; without an offset: UTC)")
    end: IsoDatetime = Field(description=f"end of the range, after `begin`, at most "
                             f"{MAX_RANGE.days} days later")
    format: Literal["json", "png"] = Field("json", description=(
        "`png`: a colour picture of the counts (20 pixels a cell, black where nothing moved) "
        "to lay over the source's picture"))


class MotionHitOut(BaseModel):
    source_id: int
    begin: str = Field(description="the first second with motion in the regions (UTC)")
    end: str = Field(description="the end of the last one (a one-second hit lasts 1 s)")
    peak: float = Field(description="the largest share of the regions' cells changed in one "
                        "second, 0..1")
    record_ids: list[str] = Field(description="the records whose footage overlaps the hit")


class MotionSearchOut(BaseModel):
    hits: list[MotionHitOut] = Field(description="in time order (then by source)")


class HeatmapOut(BaseModel):
    source_id: int
    cols: int
    rows: int
    counts: list[list[int]] = Field(description="`rows` lists of `cols` numbers: the seconds "
                                    "each cell of the picture changed in the range, top row "
                                    "first")


def _regions(raw: list[str]) -> list[tuple]:
    regions = []
    for text in raw:
        parts = text.split(",")
        if len(parts) != 4:
            raise InvalidInput("a region is four numbers x0,y0,x1,y1", field="region")
        try:
            regions.append(tuple(float(part) for part in parts))
        except ValueError:
            raise InvalidInput("a region is four numbers x0,y0,x1,y1", field="region") from None
    return regions


async def _run(request: web.Request, fn, source_ids: list[int], *args, **kwargs):
    """The service asks the owners of other stations' sources over the network: such a
    request runs on the forwarding lane (api.executors, 503 once full), never on the
    catalog's threads; one for this station's sources alone (or passed here) does not."""
    station, passed_on = request.app[STATION], forwarded(request)
    if passed_on or all(station.site.is_local(station.site.owner(sid)) for sid in source_ids):
        return await call(fn, *args, forwarded=passed_on, **kwargs)
    return await slow(request, FORWARD, fn, *args, forwarded=False, **kwargs)


async def search(request: web.Request) -> web.Response:
    """Intervals with motion in parts of the picture of one or more sources"""
    # a source out of the caller's scope: the 404 of an unknown one (read_query's check)
    query = read_query(request, SearchQuery, repeated=REPEATED)
    hits = await _run(request, request.app[STATION].motion_search.search, query.source_id,
                      query.source_id, query.begin, query.end, _regions(query.region),
                      min_cells=query.min_cells, merge_s=query.merge_s)
    return ok(MotionSearchOut(hits=[MotionHitOut(
        source_id=hit.source_id, begin=iso_utc(hit.begin), end=iso_utc(hit.end), peak=hit.peak,
        record_ids=list(hit.record_ids)) for hit in hits]))


async def heatmap(request: web.Request) -> web.Response:
    """Where motion happened in a source's picture over a time range"""
    source_id = path_int(request, "source_id")
    query = read_query(request, HeatmapQuery)
    service = request.app[STATION].motion_search
    if query.format == "png":
        picture = await _run(request, service.heatmap_png, [source_id], source_id,
                             query.begin, query.end)
        return web.Response(body=picture, content_type=PNG,
                            headers={"Cache-Control": "no-store"})
    found = await _run(request, service.heatmap, [source_id], source_id, query.begin,
                       query.end)
    return ok(HeatmapOut(source_id=found.source_id, cols=found.cols, rows=found.rows,
                         counts=[list(row) for row in found.counts]))


def setup(app: web.Application) -> None:
    add_route(app, "GET", "/api/v1/motion/search", search, role="viewer", tag="motion",
              query=SearchQuery, response=MotionSearchOut, errors=(404, 503),
              summary="Intervals with motion in parts of the picture of one or more sources",
              description="Answered from the motion grids stored while the sources were "
              f"analysed (each second's changed cells, {GRID_COLS}x{GRID_ROWS} over the "
              "picture, masks applied), never by decoding footage: a year of a camera in well "
              "under a second. Seconds with at least `min_cells` changed cells in the regions "
              "are motion; those at most `merge_s` quiet seconds apart are one hit, with its "
              "peak share of the regions' cells and the records holding its footage (play or "
              "export them). A range over "
              f"{MAX_RANGE.days} days, `end` not after `begin`, a region outside 0..1 or not "
              "a rectangle, NaN: 422. A source outside the caller's scope or unknown: 404. "
              "Only sources whose motion detection is on have grids. On a site, another "
              "station's sources are searched by their owner (which alone has its last minute "
              "or two); an owner that does not answer has them searched here from what it "
              "stored.")
    add_route(app, "GET", "/api/v1/source/{source_id}/motion/heatmap", heatmap, role="viewer",
              tag="source", path_types={"source_id": int}, query=HeatmapQuery, errors=(503,),
              response=HeatmapOut, binary=Binary(PNG, "the counts as a colour picture "
                                                  "(`format=png`)"),
              summary="Where motion happened in a source's picture over a time range",
              description="The seconds each cell of the picture changed in [begin, end), "
              f"summed from the stored motion grids ({GRID_COLS}x{GRID_ROWS} cells): as JSON "
              "rows, or with `format=png` as a picture to lay over the source's, black where "
              f"nothing moved. A range over {MAX_RANGE.days} days or `end` not after `begin`: "
              "422.")
