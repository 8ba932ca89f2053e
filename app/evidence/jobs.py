"""Evidence packages asked through the API: a job per package, cut and sealed on a thread of
its own while the client polls, then downloaded once as a zip.

Asking (`start`) checks the request and takes the export's lease at once, so the caps and the
disk floor answer the client's POST (429/503/507), not a job that fails later. The job's
files are the lease's work files (app.recordings.export_space): the parts, the burned-in
copies, then the zip they go into (each part removed once in it). A client polling the job or
reading its zip keeps it alive; one that does neither for `export_stall_s` loses it (the sweep
removes its files: state `expired`), and the storage guard may take it back like any export.
The zip is handed out once (`take`), then removed after it was sent.

A job id is 144 random bits (`secrets`): it is the only handle on the package, and routes
need the API's credentials besides. Finished jobs are forgotten past `KEEP_JOBS`.
"""

from __future__ import annotations

import logging
import secrets
import threading
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from app.errors import Conflict, NotFound, StationError
from app.evidence import manifest
from app.evidence.package import CUT_SHARE, EvidenceService, PackageRequest
from app.recordings.export import ExportFile
from app.recordings.export_space import Lease

log = logging.getLogger(__name__)

KEEP_JOBS = 64
State = Literal["running", "done", "failed", "expired", "downloaded"]
Package = Literal["zip", "folder"]
MEDIA_TYPES = {".mp4": "video/mp4", ".html": "text/html; charset=utf-8",
               ".json": "application/json"}


@dataclass
class Job:
    id: str
    client: str
    who: str
    source_ids: list[int]
    created: datetime
    state: State = "running"
    progress: float = 0.0
    error: str | None = None
    files: list[dict] = field(default_factory=list)
    export: ExportFile | None = None  # the zip, until handed out
    filename: str = ""
    package: Package = "zip"
    paths: dict[str, Path] = field(default_factory=dict)  # a folder's files, by name
    lease: Lease | None = None  # a folder's: its files' hold on the work space


class EvidenceJobs:
    def __init__(self, evidence: EvidenceService):
        self.evidence = evidence
        self.exports = evidence.exports
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def start(self, request: PackageRequest, *, client: str, who: str,
              package: Package = "zip") -> Job:
        """Check the request, reserve its room, and cut and seal it on a thread; the job as
        it starts. Raises what a refused export raises (caps, floor, nothing recorded).
        `package`: one zip handed out once, or a folder whose files are fetched by name."""
        request = self.evidence.check(request)
        parts = self.exports.reserve_parts(request.source_ids, request.begin, request.end,
                                           client=client, copies=2.0 if request.burn_in else 1.0)
        job = Job(secrets.token_urlsafe(18), client, who, request.source_ids,
                  datetime.now(timezone.utc),
                  filename=self.evidence.package_name(request.begin) + ".zip", package=package)
        with self._lock:
            self._jobs[job.id] = job
            self._forget_old()
        threading.Thread(target=self._run, args=(job, request, parts), name="evidence-job",
                         daemon=True).start()
        return job

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.state != "running"]
        while len(self._jobs) > KEEP_JOBS and finished:
            old = finished.pop(0)
            self._jobs.pop(old.id, None)
            if old.export is not None:
                self.exports.discard(old.export)
            if old.lease is not None:
                self.exports.space.release(old.lease)

    def _run(self, job: Job, request: PackageRequest, parts) -> None:
        space, lease = self.exports.space, parts.lease

        def cancelled() -> bool:
            space.progress(lease)  # raises once the lease is taken back
            return False

        def at(fraction: float) -> None:
            job.progress = max(job.progress, min(0.99, fraction))

        try:
            cut_share = CUT_SHARE if request.burn_in else 0.9
            cuts = self.exports.cut_parts(parts, progress=lambda f: at(f * cut_share),
                                          cancelled=cancelled)
            footage = list(zip(cuts, _distinct([self.exports.filename(c.source_id, request.begin)
                                                for c in cuts])))
            copies = []
            if request.burn_in:
                copies = self.evidence.burn(
                    footage, lambda name: space.work_file(lease, ".mp4"),
                    lambda f: at(CUT_SHARE + f * (0.9 - CUT_SHARE)), cancelled)
            sealed = self.evidence.seal(request, who=job.who, via="api", footage=footage,
                                        copies=copies)
            if job.package == "folder":
                self._keep_folder(job, lease, footage, copies, sealed)
                return
            path = space.work_file(lease, ".zip")
            folder = job.filename[:-len(".zip")]
            with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED,
                                 allowZip64=True) as archive:
                for cut, name in footage:
                    archive.write(cut.path, f"{folder}/{name}")
                    cut.path.unlink()
                    space.progress(lease)
                for _, name, copy in copies:
                    archive.write(copy, f"{folder}/{name}")
                    copy.unlink()
                archive.writestr(f"{folder}/{manifest.PAGE}", sealed.page)
                archive.writestr(f"{folder}/{manifest.MANIFEST}", sealed.manifest)
                archive.writestr(f"{folder}/{manifest.SIGNATURE}", sealed.signature)
            space.touch(lease)
            job.export = ExportFile(path, job.filename, "application/zip", path.stat().st_size,
                                    lease)
            job.files = sealed.files
            job.progress, job.state = 1.0, "done"
        except BaseException as exc:  # the client reads it in the job's state
            space.release(lease)
            job.state = "failed"
            job.error = exc.message if isinstance(exc, StationError) else type(exc).__name__
            if not isinstance(exc, StationError):
                log.exception("evidence job failed")

    def _keep_folder(self, job: Job, lease: Lease, footage, copies, sealed) -> None:
        """A folder package: its files stay the lease's work files, fetched by name."""
        space = self.exports.space
        paths = {name: cut.path for cut, name in footage}
        paths.update({name: path for _, name, path in copies})
        files = list(sealed.files)
        for name, data in ((manifest.PAGE, sealed.page), (manifest.MANIFEST, sealed.manifest),
                           (manifest.SIGNATURE, sealed.signature)):
            path = space.work_file(lease, ".part")
            path.write_bytes(data)
            paths[name] = path
            if name != manifest.PAGE:  # the page is listed in the manifest already
                files.append(manifest.entry_of_bytes(name, "manifest" if name == manifest.MANIFEST
                                                     else "signature", data))
        space.touch(lease)
        job.paths, job.lease, job.files = paths, lease, files
        job.progress, job.state = 1.0, "done"

    def file(self, job_id: str, name: str) -> ExportFile:
        """A file of a folder package, by its name in the manifest (nothing else: the name
        is looked up, never joined to a path); it stays the job's (sent, not discarded)."""
        job = self.get(job_id)
        if job.package != "folder":
            raise Conflict("this package is one zip: download it whole")
        if job.state != "done":
            raise Conflict(f"the package is not ready (state {job.state})"
                           + (f": {job.error}" if job.error else ""))
        path = job.paths.get(name)
        if path is None:
            raise NotFound("file of the package", repr(name[:80]), field="name")
        kind = MEDIA_TYPES.get(Path(name).suffix, "application/octet-stream")
        return ExportFile(path, name, kind, path.stat().st_size, job.lease)

    def get(self, job_id: str) -> Job:
        """The job (a client reading it keeps its package from expiring)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFound("export job", "with this id", field="job_id")
        lease = job.lease if job.export is None else job.export.lease
        if job.state == "done" and lease is not None:
            if lease.gone_since is not None:
                job.state, job.export, job.paths = "expired", None, {}
                job.error = f"the package was removed: {lease.why}"
            else:
                self.exports.space.touch(lease)
        return job

    def take(self, job_id: str) -> ExportFile:
        """The job's zip, handed out once (the caller sends it, then `exports.discard`s it)."""
        job = self.get(job_id)
        if job.package == "folder":
            raise Conflict("this package is a folder: download its files one by one")
        with self._lock:
            if job.state != "done" or job.export is None:
                raise Conflict(f"the package is not ready to download (state {job.state})"
                               + (f": {job.error}" if job.error else ""))
            export, job.export, job.state = job.export, None, "downloaded"
        return export


def _distinct(names: list[str]) -> list[str]:
    """File names made distinct (two sources whose names read alike once made safe):
    `-2`, `-3` … before the extension of a repeat."""
    seen: set[str] = set()
    out = []
    for name in names:
        stem, dot, ext = name.rpartition(".")
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{stem}-{n}{dot}{ext}"
        seen.add(candidate)
        out.append(candidate)
    return out
