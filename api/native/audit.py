"""`GET /api/v1/audit`: the audit trail of state changes, newest first, for whoever holds the
station token (the native API's authentication applies as on every other route). Only
translates HTTP to `AuditService.list`; the entries were written by the guard middleware and
the GUI and name callers by id, never by secret."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from api.keys import STATION
from api.native.params import add_route, ok, read_query
from api.routing import call
from app.services.audit import MAX_PAGE_SIZE, ActionName, AuditPage


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")
    page: int = Field(1, ge=1, le=1_000_000, description="1 is the newest page")
    page_size: int = Field(50, ge=1, le=MAX_PAGE_SIZE, description="entries per page")
    before_id: int | None = Field(None, ge=1, le=2**63 - 1,
                                  description="only entries older than this id: a cursor that "
                                  "stays put while new entries arrive")
    dialect: str | None = Field(None, min_length=1, max_length=32,
                                description="`native`, `device_connect`, `huawei_live`, "
                                "`huawei_rtc` or `gui`")
    action: ActionName | None = Field(None, description="one action of the vocabulary the "
                                      "API and the GUI share: `start recording`, `create source` …")
    target: str | None = Field(None, min_length=1, max_length=512,
                               description="exactly what was touched, as listed")


async def list_audit(request: web.Request) -> web.Response:
    query = read_query(request, AuditQuery)
    return ok(await call(request.app[STATION].audit.list, **query.model_dump()))


def setup(app: web.Application) -> None:
    add_route(app, "GET", "/api/v1/audit", list_audit, tag="audit", query=AuditQuery,
              response=AuditPage, summary="The audit trail of state changes",
              description="Every state-changing request of every dialect (any method but "
              "GET/HEAD/OPTIONS that passed authentication) and every change made in the GUI: "
              "when, the dialect, the client's address, who (the credential's id — "
              "`station-token`, `open`, `dc-client:…`, `ak:…` — or the operator's user name; "
              "never a secret), the action (a name every door shares: `start recording` through "
              "the API or the GUI alike), its target, result (the HTTP status) and, for the API, "
              "the method and route pattern asked (`detail`). Newest first; kept 90 days.")
