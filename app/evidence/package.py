"""Making an evidence package: the export's cut MP4s, optionally burned-in copies, the
manifest page, the manifest and its signature (app.evidence.manifest says what they hold).

The footage is cut by the export service exactly as a plain export is (byte-exact stream
copy, its caps and disk-space leases: app.recordings.export); this module only adds what
makes it evidence. The GUI writes a package into a folder the operator chose
(`export_package`: a folder, or one zip); an API client gets one through a job
(app.evidence.jobs), whose files are the export's work files until downloaded.
"""

from __future__ import annotations

import logging
import shutil
import unicodedata
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from app.catalog import Catalog
from app.errors import Conflict, InvalidInput
from app.evidence import manifest
from app.evidence.keys import SigningKey
from app.files import safe_name
from app.models import Source
from app.recordings.export import Cut, ExportService, Fraction
from app.redaction import mask_uri
from recorder.burn_in import burn_in
from recorder.export import ExportCancelled, ExportError

log = logging.getLogger(__name__)

MAX_NOTE = 4000  # characters of a case note
BURNED = "-burned-in.mp4"
CUT_SHARE = 0.6  # of the progress bar, when burned-in copies follow the cut


@dataclass(frozen=True)
class PackageRequest:
    """What to put in a package: the footage of `source_ids` over [begin, end), why, and
    whether to add copies with the camera name and time drawn in."""

    source_ids: list[int]
    begin: datetime
    end: datetime
    case_note: str = ""
    burn_in: bool = False


@dataclass
class Sealed:
    """The package's own files, made from its footage (bytes: small)."""

    page: bytes
    manifest: bytes
    signature: bytes
    files: list[dict] = field(default_factory=list)  # the manifest's file list


def clean_note(note: str | None) -> str:
    """A case note as typed, bounded, without control characters but line breaks (it is
    shown in an HTML page and a JSON file: both escape it, this keeps it readable)."""
    text = (note or "").replace("\r\n", "\n").strip()
    if len(text) > MAX_NOTE:
        raise InvalidInput(f"the case note is longer than {MAX_NOTE} characters",
                           field="case_note")
    return "".join(c for c in text if c == "\n" or unicodedata.category(c) != "Cc")


def time_label(name: str) -> Callable[[float], str]:
    """What a burned-in copy shows: the camera name and the station's local wall-clock time
    of each frame, with its offset from UTC."""
    def label(at: float) -> str:
        local = datetime.fromtimestamp(at, timezone.utc).astimezone()
        return f"{name}  {local.strftime('%Y-%m-%d %H:%M:%S')}.{local.microsecond // 1000:03d} " \
               f"{local.strftime('%z')}"
    return label


class EvidenceService:
    def __init__(self, catalog: Catalog, exports: ExportService, key: SigningKey, *,
                 station_id: str, station_name: Callable[[], str], version: str):
        self.catalog = catalog
        self.exports = exports
        self.key = key
        self.station_id = station_id
        self.station_name = station_name
        self.version = version

    @property
    def public_key(self) -> str:
        """The station's evidence public key: base64 of the raw 32 Ed25519 bytes."""
        return self.key.public_text

    def station(self) -> dict:
        return {"id": self.station_id, "name": self.station_name(), "version": self.version,
                "public_key": self.key.public_text,
                "public_key_fingerprint": self.key.fingerprint}

    def check(self, request: PackageRequest) -> PackageRequest:
        if not request.source_ids:
            raise InvalidInput("no source to export", field="source_ids")
        return PackageRequest(list(dict.fromkeys(request.source_ids)), request.begin,
                              request.end, clean_note(request.case_note), request.burn_in)

    def package_name(self, begin: datetime) -> str:
        return f"evidence_{safe_name(self.station_name())}_" \
               f"{begin.astimezone(timezone.utc).strftime('%Y%m%dT%H%M%SZ')}"

    def cameras(self, source_ids: list[int]) -> dict[int, tuple[str, str | None]]:
        """Each source's name and address without credentials."""
        found: dict[int, tuple[str, str | None]] = {}
        with self.catalog.session() as s:
            for source_id in source_ids:
                row = s.get(Source, source_id)
                if row is None:
                    found[source_id] = (f"source {source_id}", None)
                    continue
                address = row.uri_rtsp or row.uri_snapshot
                found[source_id] = (row.name, manifest.without_credentials(mask_uri(address)))
        return found

    # --- the parts every package has ------------------------------------------------------
    def burn(self, cuts: list[tuple[Cut, str]], out_of: Callable[[str], Path],
             progress: Fraction | None, cancelled: Callable[[], bool] | None
             ) -> list[tuple[Cut, str, Path]]:
        """A burned-in copy of each cut (`(cut, its file name)`), written where `out_of(name)`
        says; returns (cut, copy's name, its path)."""
        names = self.cameras([c.source_id for c, _ in cuts])
        made = []
        for n, (cut, name) in enumerate(cuts):
            copy_name = Path(name).stem + BURNED
            out = out_of(copy_name)
            share = (lambda f, n=n: progress((n + f) / len(cuts))) if progress else None
            begin = (cut.begin.timestamp() if cut.begin is not None else 0.0)
            try:
                burn_in(cut.path, out, begin, time_label(names[cut.source_id][0]),
                        progress=share, cancelled=cancelled)
            except ExportCancelled:
                raise Conflict("the export was cancelled") from None
            except ExportError as exc:
                raise Conflict(f"no burned-in copy of {name}: {exc}") from None
            made.append((cut, copy_name, out))
        return made

    def seal(self, request: PackageRequest, *, who: str, via: str,
             footage: list[tuple[Cut, str]], copies: list[tuple[Cut, str, Path]]) -> Sealed:
        """The page, manifest and signature of a package holding `footage` (cut, name)
        and `copies` (cut, name, path)."""
        exported_at = datetime.now(timezone.utc)
        known = self.cameras(request.source_ids)
        cameras = [manifest.Camera(c.source_id, known[c.source_id][0], known[c.source_id][1],
                                   name, c.begin, c.end) for c, name in footage]
        files = [manifest.entry(name, "footage", c.path, c.source_id) for c, name in footage]
        files += [manifest.entry(name, "burned-in copy", path, c.source_id)
                  for c, name, path in copies]
        station = self.station()
        common = dict(station=station, who=who, via=via, case_note=request.case_note,
                      exported_at=exported_at, begin=request.begin, end=request.end,
                      cameras=cameras)
        page = manifest.page(**common, footage=[(f["name"], f["sha256"], f["size_bytes"])
                                                for f in files]).encode("utf-8")
        files.append(manifest.entry_of_bytes(manifest.PAGE, "manifest page", page))
        body = manifest.encode(manifest.build(**common, files=files))
        signature = manifest.b64(self.key.sign(body))
        return Sealed(page, body, signature, files)

    # --- the GUI's: into a folder ---------------------------------------------------------
    def export_package(self, request: PackageRequest, folder: Path, *, who: str,
                       as_zip: bool = False, progress: Fraction | None = None,
                       cancelled: Callable[[], bool] | None = None) -> Path:
        """Write a package into `folder` (made when missing): a folder of its own, or one
        zip holding that folder; returns its path. Nothing is left of a package that
        failed or was cancelled."""
        request = self.check(request)
        folder.mkdir(parents=True, exist_ok=True)
        name = self.package_name(request.begin)
        target = _free_name(folder / name, ".zip" if as_zip else "")
        package = _free_name(folder / (target.stem if as_zip else target.name), "")
        package.mkdir()
        try:
            cut_share = CUT_SHARE if request.burn_in else 0.9
            cuts = self.exports.export_cuts(
                request.source_ids, request.begin, request.end, package,
                progress=(lambda f: progress(f * cut_share)) if progress else None,
                cancelled=cancelled)
            footage = [(c, c.path.name) for c in cuts]
            copies = []
            if request.burn_in:
                copies = self.burn(
                    footage, lambda n: package / n,
                    (lambda f: progress(CUT_SHARE + f * (0.9 - CUT_SHARE))) if progress else None,
                    cancelled)
            sealed = self.seal(request, who=who, via="gui", footage=footage, copies=copies)
            (package / manifest.PAGE).write_bytes(sealed.page)
            (package / manifest.MANIFEST).write_bytes(sealed.manifest)
            (package / manifest.SIGNATURE).write_bytes(sealed.signature)
            if as_zip:
                with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED,
                                     allowZip64=True) as archive:
                    for entry in sealed.files + [{"name": manifest.MANIFEST},
                                                 {"name": manifest.SIGNATURE}]:
                        archive.write(package / entry["name"], f"{target.stem}/{entry['name']}")
                shutil.rmtree(package)
        except BaseException:
            shutil.rmtree(package, ignore_errors=True)
            if as_zip:
                target.unlink(missing_ok=True)
            raise
        if progress is not None:
            progress(1.0)
        log.info("evidence package of %d source(s) written to %s", len(request.source_ids),
                 target)
        return target


def _free_name(path: Path, suffix: str) -> Path:
    """`path` + `suffix`, or with `-2`, `-3` … before the suffix: never an existing one."""
    candidate, n = path.with_name(path.name + suffix), 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}{suffix}")
    return candidate
