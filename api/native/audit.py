"""`GET /api/v1/audit`: the audit trail, newest first, for whoever holds the station token
(the native API's authentication applies as on every other route), as JSON pages or as CSV
(`format=csv` or `Accept: text/csv`) with the same filters. Only translates HTTP to
`AuditService.list` / `entries`; the entries were written by the guard middleware and the GUI
and name callers by id, never by secret."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from api.keys import STATION
from api.native.params import IsoDatetime, add_route, ok, read_query
from api.native.routedoc import Binary
from api.routing import call
from app.services.audit import MAX_CSV_ROWS, MAX_PAGE_SIZE, ActionName, AuditPage
from app.services.audit_csv import to_csv

CSV = "text/csv"
FILTERS = ("dialect", "action", "target", "who", "user", "source_id", "since", "until", "q")


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    page: int = Field(1, ge=1, le=1_000_000, description="1 is the newest page (JSON only)")
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE, description="entries per page (JSON only)")
    before_id: int | None = Field(None, ge=1, le=2**63 - 1,
                                  description="only entries older than this id: a cursor that "
                                  "stays put while new entries arrive")
    dialect: str | None = Field(None, min_length=1, max_length=32,
                                description="`native`, `device-connect`, `huawei-live`, "
                                "`huawei-rtc`, `mqtt` or `gui`")
    action: ActionName | None = Field(None, description="one action of the vocabulary the "
                                      "API and the GUI share: `start recording`, `create source` …")
    target: str | None = Field(None, min_length=1, max_length=512,
                               description="exactly what was touched, as listed")
    who: str | None = Field(None, min_length=1, max_length=128,
                            description="exactly who, as listed: `station-token`, `open`, "
                            "`dc-client:…`, `ak:…`, an operator's user name")
    user: str | None = Field(None, min_length=1, max_length=64,
                             description="an account's entries however it came in: a session, "
                             "a personal token, an AK/SK, MQTT, a Device Connect application "
                             "acting as it, another station acting for it")
    source_id: int | None = Field(None, ge=1, le=2**63 - 1,
                                  description="entries that touched this source: the source, a "
                                  "record of it, a bookmark on it (entries written since "
                                  "migration 0015)")
    since: IsoDatetime | None = Field(None, description="entries at or after this time "
                                      "(ISO 8601; without an offset: UTC)")
    until: IsoDatetime | None = Field(None, description="entries before this time")
    q: str | None = Field(None, min_length=1, max_length=200,
                          description="a search: text found (any case) in who, action, target "
                          "or detail — a name, `START`, `serviceId`, a route")
    format: Literal["json", "csv"] | None = Field(
        None, description="`csv`: every matching entry (newest first, at most "
        f"{MAX_CSV_ROWS}) as a CSV file, as `Accept: text/csv` asks too; cells that would "
        "start a spreadsheet formula (`=`, `+`, `-`, `@`) begin with `'`")


def wants_csv(request: web.Request, query: AuditQuery) -> bool:
    """`format=csv`, or `Accept: text/csv` without `format=json`."""
    if query.format is not None:
        return query.format == "csv"
    accept = request.headers.get("Accept", "")
    return any(part.split(";")[0].strip().lower() == CSV for part in accept.split(","))


async def list_audit(request: web.Request) -> web.Response:
    query = read_query(request, AuditQuery)
    audit = request.app[STATION].audit
    filters = query.model_dump(include=set(FILTERS))
    if wants_csv(request, query):
        if query.before_id is not None:
            filters["before_id"] = query.before_id
        entries = await call(audit.entries, **filters)
        return web.Response(
            text=to_csv(entries), content_type=CSV, charset="utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit.csv"',
                     "Cache-Control": "no-store"})
    return ok(await call(audit.list, page=query.page, page_size=query.page_size,
                         before_id=query.before_id, **filters))


def setup(app: web.Application) -> None:
    add_route(app, "GET", "/api/v1/audit", list_audit, role="admin", tag="audit", query=AuditQuery,
              response=AuditPage, binary=Binary(CSV, "every matching entry as CSV (UTF-8, "
                                                "a header line, CRLF line ends)"),
              headers={"Accept": "`text/csv` for the CSV file (as `format=csv`)"},
              summary="The audit trail of state changes and footage handed out",
              description="Every state-changing request of every dialect (any method but "
              "GET/HEAD/OPTIONS that passed authentication), every picture and record file "
              "handed out (`take snapshot`, `download footage`), and every change, export, copy "
              "and playback made in the GUI: when, the dialect, the client's address, who (the "
              "credential's id — `station-token`, `open`, `dc-client:…`, `ak:…` — or the "
              "operator's user name; never a secret), the action (a name every door shares: "
              "`start recording` through the API or the GUI alike), its target with names "
              "beside ids as they were then (`group Entrances (2), source Front door (6)`), "
              "result (the HTTP status) and, for the API, the method, route pattern and the "
              "dialect's own terms (`detail`: `action=START app=live stream=cam1`). Filters: "
              "who, action, dialect, source, time range, a search `q`; `format=csv` (or "
              "`Accept: text/csv`) for a file. Newest first; kept 90 days.")
