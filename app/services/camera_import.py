"""Adding several found cameras at once (#27 item 7): each camera's profiles read with one
login, a source made of its main and preview streams (and its snapshot), named from the
camera, put into a chosen group, its PTZ control kept when it has one (#27 item 5: the
tile's arrows work at once); what was added and what failed, camera by camera.

Why the name comes from the camera: an operator knows a camera by the name it was given on
its own web page (the ONVIF device name, in its discovery scopes: "Gate West"), not by
"SIM-2000 192.168.1.64"; only a camera without a name falls back to its model plus address.
A name already taken gets " (2)", " (3)"... since source names are unique.

Why here and not in the dialog: the rules (naming, what a source of a camera holds, one
failure not stopping the others) are the service layer's, so the GUI today and an API route
later add cameras the same way. `station` is whatever the caller acts through: the GUI's
audited station audits and role-checks each create and each group change, as for one source.
Profiles are read a few cameras at a time (a camera that does not answer costs the discovery
service's uniform failure delay); sources are created one by one, in the cameras' order.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from app.errors import Conflict, StationError
from app.schemas import SourceIn, SourceOut
from app.services.discovery import CameraProfiles, FoundCamera, with_login

log = logging.getLogger(__name__)

READERS = 4  # cameras whose profiles are read at the same time
MAX_CAMERAS = 64  # one batch; more is a mistake or a scan
NAME_MAX = 100


@dataclass(frozen=True)
class CameraFailure:
    camera: str   # how the operator saw it in the list: its name, else its address
    reason: str


@dataclass
class ImportSummary:
    """What a batch did: the sources made (in the cameras' order), the cameras that failed."""
    group: str | None = None
    added: list[SourceOut] = field(default_factory=list)
    added_from: list[str] = field(default_factory=list)  # each added source's camera address
    failed: list[CameraFailure] = field(default_factory=list)

    def text(self) -> str:
        where = f" to the group “{self.group}”" if self.group else ""
        lines = [f"Added {len(self.added)} camera(s){where}: "
                 + ", ".join(s.name for s in self.added) + "." if self.added
                 else "No camera was added."]
        if self.failed:
            lines.append(f"{len(self.failed)} failed:")
            lines += [f"• {f.camera}: {f.reason}" for f in self.failed]
        return "\n".join(lines)


def camera_label(camera: FoundCamera) -> str:
    return camera.name.strip() or camera.address


def camera_name(camera: FoundCamera | None, profiles: CameraProfiles) -> str:
    """The camera's own ONVIF name; without one, its model plus address (`profiles.name`)."""
    own = camera.name.strip() if camera is not None else ""
    return (own or profiles.name)[:NAME_MAX].strip()


def free_name(base: str, taken: set[str]) -> str:
    """`base`, or `base (2)`, `base (3)`... the first not in `taken` (compared ignoring case)."""
    if base.lower() not in taken:
        return base
    n = 2
    while True:
        suffix = f" ({n})"
        name = base[:NAME_MAX - len(suffix)] + suffix
        if name.lower() not in taken:
            return name
        n += 1


def source_of(name: str, profiles: CameraProfiles, user: str, password: str,
              defaults: dict | None = None) -> SourceIn:
    """A source of the camera: its suggested main and preview streams (login in them, as
    read_profiles gives them) and its snapshot with the login, for a picture before frames;
    `defaults`: the other fields every camera of the batch gets (its recording mode...)."""
    snapshot = with_login(profiles.snapshot_uri, user, password) if profiles.snapshot_uri else None
    return SourceIn.model_validate({
        **(defaults or {}), "name": name, "uri_rtsp": profiles.uri_rtsp,
        "uri_preview": profiles.uri_preview, "uri_snapshot": snapshot})


def keep_ptz(station: Any, source_id: int, address: str, profiles: CameraProfiles, user: str,
             password: str) -> None:
    """Keep the camera's PTZ control with its new source (`source.onvif`, app.ptz: its PTZ
    service, profile and the login, encrypted in the catalog), so the tile's PTZ controls
    work at once; nothing for a camera without PTZ. `profiles`: what
    `read_profiles(address, user, password)` answered, so the camera is not asked again."""
    if profiles.ptz is None:
        return
    control = station.discovery.control_from(address, profiles.ptz, user, password)
    station.ptz.keep(source_id, control)


def add_found_cameras(station: Any, cameras: list[FoundCamera], user: str, password: str,
                      group_id: int | None = None, defaults: dict | None = None) -> ImportSummary:
    """Read each camera with the login, add it as a source named from the camera, into the
    group `group_id` (None: none), each with the `defaults` fields (source_of); one camera
    failing never stops the others."""
    cameras = list(cameras)[:MAX_CAMERAS]
    summary = ImportSummary(group=station.groups.get(group_id).name if group_id is not None else None)
    discovery = station.discovery

    def read(camera: FoundCamera) -> CameraProfiles | StationError:
        try:
            return discovery.read_profiles(camera.address, user, password)
        except StationError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=min(READERS, max(1, len(cameras))),
                            thread_name_prefix="camera-import") as pool:
        answers = list(pool.map(read, cameras))
    taken = {s.name.lower() for s in station.sources.list()}
    for camera, answer in zip(cameras, answers):
        label = camera_label(camera)
        if isinstance(answer, StationError):
            summary.failed.append(CameraFailure(label, answer.message))
            continue
        if not answer.uri_rtsp:
            summary.failed.append(CameraFailure(label, "it offers no RTSP stream the station can open"))
            continue
        source = _create(station, camera, (answer, user, password, defaults), taken, summary)
        if source is None:
            continue
        summary.added.append(source)
        summary.added_from.append(camera.address)
        try:
            keep_ptz(station, source.id, camera.address, answer, user, password)
        except StationError as exc:
            summary.failed.append(CameraFailure(
                label, f"added as “{source.name}” but without PTZ control: {exc.message}"))
        if group_id is not None:
            try:
                station.groups.add_source(group_id, source.id)
            except StationError as exc:
                summary.failed.append(CameraFailure(
                    label, f"added as “{source.name}” but not to the group: {exc.message}"))
    return summary


def _create(station: Any, camera: FoundCamera, read: tuple, taken: set[str],
            summary: ImportSummary) -> SourceOut | None:
    """The camera's source (`read`: source_of's arguments after the name), under a free name
    (a name taken meanwhile, or by a source this user cannot see, is tried again with the
    next number)."""
    base = camera_name(camera, read[0])
    for _attempt in range(5):
        name = free_name(base, taken)
        taken.add(name.lower())
        try:
            return station.sources.create(source_of(name, *read))
        except Conflict as exc:
            if exc.field != "name":
                summary.failed.append(CameraFailure(camera_label(camera), exc.message))
                return None
        except StationError as exc:
            summary.failed.append(CameraFailure(camera_label(camera), exc.message))
            return None
        except ValidationError as exc:  # its text would hold the URIs, login included
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            summary.failed.append(CameraFailure(camera_label(camera), problems))
            return None
        except Exception as exc:  # noqa: BLE001 - one camera's surprise never stops the batch
            # the type only: a message might carry a URI with the camera's login in it
            log.error("adding the camera at %s failed: %s", camera.address, type(exc).__name__)
            summary.failed.append(CameraFailure(camera_label(camera),
                                                f"unexpected error ({type(exc).__name__})"))
            return None
    summary.failed.append(CameraFailure(camera_label(camera), f"no free name like “{base}”"))
    return None
