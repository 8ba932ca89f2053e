"""`POST /api/v1/export`, `GET /api/v1/export/{job_id}` and its `/download`: an evidence
package (app.evidence) made by an asynchronous job and downloaded as one zip.

Only translates HTTP to `EvidenceJobs`: the request is checked and its room reserved when it
is posted (the export caps answer 429/503, the disk floor 507, as every export route does);
the job cuts and seals on a thread while the client polls; the zip is handed out once.
Nothing the client sends is used as a path: sources are ids, the package is named by the
station, and a job is found by its id among the jobs in memory (144 random bits). Asking is
audited as "export footage" (the guard: a state change); a download as "download footage".
The plain `GET /api/v1/export` (a zip of several sources, no manifest) stays as it was.
"""

from __future__ import annotations

from typing import Annotated, Literal

from aiohttp import web
from pydantic import BaseModel, Field

from api.keys import STATION
from api.native.export import WorkFile, audit_download, busy, export_client
from api.native.params import IsoDatetime, add_route, ok, read_model
from api.native.records import VideoFile
from api.native.routedoc import Binary
from api.routing import call
from api.security import PRINCIPAL
from app.errors import Conflict, StationError
from app.evidence.jobs import Job
from app.evidence.package import MAX_NOTE, PackageRequest
from app.recordings.export_space import ExportsBusy

JOBS = "/api/v1/export"
SourceId = Annotated[int, Field(ge=1, lt=2**63)]  # a catalog id: nothing larger reaches SQL


class EvidenceIn(BaseModel):
    source_ids: list[SourceId] = Field(min_length=1, max_length=64,
                                  description="the sources (cameras) to put in the package")
    begin: IsoDatetime = Field(description="first instant (ISO 8601, UTC without a zone)")
    end: IsoDatetime = Field(description="the package's footage stops before this instant")
    case_note: str = Field("", max_length=MAX_NOTE,
                           description="why it is exported: stated in the signed manifest")
    package: Literal["zip", "folder"] = Field(
        "zip", description="`zip`: one zip holding the package's folder, downloaded once; "
        "`folder`: its files downloaded one by one (`files[].download`)")
    burn_in: bool = Field(False, description="add a copy of each video with the camera name "
                          "and wall-clock time drawn in (re-encoded, named `*-burned-in.mp4`)")


class FileOut(BaseModel):
    name: str
    kind: str = Field(description="footage, burned-in copy, manifest page; in a folder "
                      "package also manifest and signature")
    source_id: int | None
    sha256: str
    size_bytes: int
    download: str | None = Field(None, description="a folder package's file: where it is")


class ExportJobOut(BaseModel):
    id: str = Field(description="the job's id: keep it, it is the only handle on the package")
    package: Literal["zip", "folder"]
    state: Literal["running", "done", "failed", "expired", "downloaded"]
    progress: float = Field(ge=0, le=1)
    error: str | None = None
    created_utc: str
    source_ids: list[int]
    files: list[FileOut] = Field(description="once done: what the manifest lists")
    download: str | None = Field(description="where the zip is, once done (a zip package)")


def job_out(job: Job) -> ExportJobOut:
    done, folder = job.state == "done", job.package == "folder"
    files = [FileOut(**f, download=f"{JOBS}/{job.id}/file/{f['name']}" if done and folder
                     else None) for f in job.files]
    return ExportJobOut(
        id=job.id, package=job.package, state=job.state, progress=round(job.progress, 3),
        error=job.error,
        created_utc=job.created.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        source_ids=job.source_ids, files=files,
        download=f"{JOBS}/{job.id}/download" if done and not folder else None)


async def start_job(request: web.Request) -> web.StreamResponse:
    body = await read_model(request, EvidenceIn)
    principal = request[PRINCIPAL]
    jobs = request.app[STATION].evidence_jobs
    try:
        job = await call(jobs.start, PackageRequest(body.source_ids, body.begin, body.end,
                                                    body.case_note, body.burn_in),
                         client=export_client(request),
                         who=f"{principal.who} (API, {principal.address})",
                         package=body.package)
    except ExportsBusy as exc:
        return busy(exc)
    return web.json_response(job_out(job).model_dump(mode="json"), status=202,
                             headers={"Location": f"{JOBS}/{job.id}"})


async def get_job(request: web.Request) -> web.Response:
    job = await call(request.app[STATION].evidence_jobs.get, request.match_info["job_id"])
    return ok(job_out(job))


async def download_job(request: web.Request) -> web.StreamResponse:
    job_id = request.match_info["job_id"]
    target = f"export job {job_id[:8]}…"  # the id is the package's handle: never whole
    try:
        export = await call(request.app[STATION].evidence_jobs.take, job_id)
    except StationError as exc:
        audit_download(request, target, f"failed: {exc.kind}")
        if isinstance(exc, Conflict):  # not ready, failed, or handed out already
            return web.json_response({"detail": exc.message}, status=409)
        raise
    audit_download(request, f"{target}, {export.size_bytes} bytes", "ok")
    return WorkFile(request, export)


async def download_file(request: web.Request) -> web.StreamResponse:
    """One file of a folder package, found by its name among the job's (never a path)."""
    job_id, name = request.match_info["job_id"], request.match_info["name"]
    target = f"export job {job_id[:8]}…, file {name[:80]}"
    try:
        part = await call(request.app[STATION].evidence_jobs.file, job_id, name)
    except StationError as exc:
        audit_download(request, target, f"failed: {exc.kind}")
        if isinstance(exc, Conflict):
            return web.json_response({"detail": exc.message}, status=409)
        raise
    audit_download(request, target, "ok")
    return PackageFile(request, part)


class PackageFile(WorkFile):
    """A file of a folder package: sent a chunk at a time like an export's work file (each
    chunk keeps the package from expiring), but kept afterwards: the job holds it until
    the client stops coming back."""

    async def prepare(self, request: web.BaseRequest):
        return await VideoFile.prepare(self, request)


def setup(app: web.Application) -> None:
    add_route(app, "POST", JOBS, start_job, action="export footage",
              summary="Start an evidence package of a time range of several sources",
              description="Extension. An asynchronous job: answered 202 with the job (its id "
              "and `Location`) once the request is checked and the room for it reserved; poll "
              "`GET /api/v1/export/{job_id}` until `state` is `done`, then download the zip. "
              "The package: one MP4 per source cut by stream copy (byte-exact, as "
              "`/api/v1/source/{id}/export`), optional burned-in copies, `manifest.html`, "
              "`manifest.json` (station, cameras without credentials, requested and actual "
              "ranges in UTC and local time, who, when, the case note, each file's SHA-256 "
              "and size) and `manifest.json.sig` (base64 Ed25519 signature of manifest.json by "
              "the station's key: `evidence_public_key` of `GET /api/v1/station`). "
              "Check it with `recording-station verify <zip>` (docs/evidence.md). This "
              "station's footage only (409 naming the station that holds another's); the "
              "export caps and the disk floor apply (429, 503, 507). A finished package is "
              "kept while the client polls or reads it: untouched for `export_stall_s`, it is "
              "removed (`expired`).", tag="export", body=EvidenceIn, response=ExportJobOut,
              response_description="the job, started", errors=(404, 409, 422, 429, 503, 507),
              extra_responses={202: {"description": "the job, started (its URL in `Location`)",
                                     "content": {"application/json": {"schema": {
                                         "$ref": "#/components/schemas/ExportJobOut"}}}}})
    add_route(app, "GET", JOBS + "/{job_id}", get_job, role="operator", tag="export",
              summary="An evidence package job: state, progress, files",
              description="Extension. `progress` 0..1; `files` (names, SHA-256, sizes) and "
              "`download` once `done`; `error` once `failed` or `expired`. 404: no job with "
              "this id (unknown, or forgotten after 64 newer ones).",
              path_types={"job_id": str}, response=ExportJobOut, errors=(404,))
    add_route(app, "GET", JOBS + "/{job_id}/download", download_job, role="operator", tag="export",
              summary="Download an evidence package (zip), once",
              description="Extension. The job's zip (stored, not compressed), sent once: it is "
              "removed after it was sent (state `downloaded`). 409 while it is not `done`. "
              "Audited as `download footage`. 409 for a folder package (its files are "
              "fetched one by one).", path_types={"job_id": str},
              binary=Binary("application/zip", "the evidence package"), errors=(404, 409))
    add_route(app, "GET", JOBS + "/{job_id}/file/{name}", download_file, role="operator", tag="export",
              summary="Download one file of a folder evidence package",
              description="Extension. `name` as the job's `files` list it (`manifest.json`, "
              "`manifest.json.sig`, `manifest.html`, the videos); any other name is 404. "
              "The files stay while the client polls or reads them: untouched for "
              "`export_stall_s`, the package is removed (`expired`). 409 for a zip package "
              "or before `done`. Audited as `download footage`.",
              path_types={"job_id": str, "name": str},
              binary=(Binary("video/mp4", "a video of the package"),
                      Binary("application/json", "the manifest"),
                      Binary("application/octet-stream", "the signature"),
                      Binary("text/html", "the manifest page")), errors=(404, 409))
