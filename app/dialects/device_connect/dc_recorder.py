"""A media recorder per source, the way Device Connect's MediaStreamRecording sees a camera:
`inactive` → record → `recording` ⇄ pause/resume `paused` → stop → `inactive`.

The state is not kept here: it is read from the catalog (the source's running records) and
the recorder (paused or not), so a recording started by the native API, the GUI or a Huawei
dialect on that source shows as `recording` here too, and `stop` here stops it (but not what
the source's recording mode records: RecordingService.client_running). `record`
starts the source under a tag of its own, `dc-<source>-<yyyymmdd-hhmmss>` (UTC).

A resumed record writes again only from the next keyframe (up to a GOP later), but the
recorder reports it recording at once: a client that was just told "resumed" sees
`recording` (a second resume is then illegal, a pause legal), whoever resumed.

Mute is a track state of the recorder, not of a recording (as in MediaStreamRecording): it
can be set while inactive and applies to the recorder's next recording; while recording it
is the running records' own mute, and setting it mutes or unmutes them.

Photos (`takephoto`) are JPEG files in `<storage>/photos/`; they are not catalog records.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from app.errors import Conflict, InvalidInput, NotFound
from app.events import EventBus, PhotoTaken
from app.files import safe_name
from app.recordings.recordings import RecordingService
from app.schemas import RecordOut, SourceModel, SourceOut
from app.services.sources import SourceService
from recorder.manager import UnknownSource

log = logging.getLogger(__name__)
INACTIVE, RECORDING, PAUSED = "inactive", "recording", "paused"
VIDEO_MIME = "video/mp4"
PHOTO_MIME = "image/jpeg"
DEFAULT_PREVIEW_FPS = 10.0
MAX_PREVIEW_FPS = 30.0
PHOTO_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\.jpg$")


class IllegalState(Conflict):
    """The recorder's state does not allow that (record while recording, stop while
    inactive, pause when not recording, resume when not paused, mute when muted, unmute
    when not muted)."""


@dataclass(frozen=True)
class RecorderInfo:
    source: SourceOut
    state: str
    muted: bool
    records: tuple[RecordOut, ...]  # the source's running records, oldest first
    width: int
    height: int
    preview_fps: float
    paused_ids: frozenset[str] = frozenset()  # the running records paused (as a client sees)

    @property
    def source_id(self) -> int:
        return self.source.id


@dataclass(frozen=True)
class Photo:
    source_id: int
    path: Path

    @property
    def name(self) -> str:
        return self.path.name


DEFAULT_TARGET = "video"  # the reference demo application sends target=video


def _target_id(target: str | int | None) -> int | None:
    """The source id a target names; None for the default recorder (no target, `video`).
    A target given but empty names nothing: "target is invalid."."""
    if target is None or (isinstance(target, str) and target.strip().lower() == DEFAULT_TARGET):
        return None
    if isinstance(target, str) and not target.strip():
        raise InvalidInput("target is invalid. (it is empty)", field="target")
    try:
        value = int(str(target).strip())
    except ValueError:
        raise InvalidInput("target is invalid.", field="target") from None
    if not 0 < value < 2**63:
        raise InvalidInput("target is invalid.", field="target")
    return value


class MediaRecorderService:
    def __init__(self, recordings: RecordingService, sources: SourceService, bus: EventBus, *,
                 photos_dir: Path, origin: str = "device_connect"):
        self.recordings, self.sources, self.bus = recordings, sources, bus
        self.photos_dir = photos_dir
        self.origin = origin
        self._lock = threading.RLock()
        self._preview_fps: dict[int, float] = {}
        self._muted: dict[int, bool] = {}  # by source: the track state for the next recording

    # --- which recorder ----------------------------------------------------------------
    def source_of(self, target: str | int | None) -> SourceOut:
        """The target's source; no target (or `video`) = the first video source. A target
        that is not a source id is InvalidInput on `target` ("target is invalid.")."""
        source_id = _target_id(target)
        if source_id is not None:
            try:
                return self.sources.get(source_id)
            except NotFound:
                raise InvalidInput("target is invalid.", field="target") from None
        listed = self._own_sources()
        video = [s for s in listed if s.model == SourceModel.source] or listed
        if not video:
            raise InvalidInput("target is invalid.: the station has no video source", field="target")
        return video[0]

    def recorders(self) -> list[RecorderInfo]:
        return [self._info(source) for source in self._own_sources()]

    def _own_sources(self) -> list[SourceOut]:
        """The sources this station records: a Device Connect service is one device, and on a
        site the other stations' cameras are the other stations' own recorders."""
        site = self.sources.site
        return [s for s in self.sources.list() if site is None or site.is_local(s.station)]

    def recorder(self, target: str | int | None) -> RecorderInfo:
        return self._info(self.source_of(target))

    def _info(self, source: SourceOut) -> RecorderInfo:
        # What the source's recording mode records is not the recorder's (#23): it neither
        # makes the recorder busy nor stops with it.
        running = tuple(sorted(
            self.recordings.client_running(source.id),
            key=lambda r: (r.begin_utc or r.created_utc, r.id)))
        states = {r.id: self.recordings.control_state(r.id) for r in running}
        # A resumed record waiting for its keyframe is not paused: the recorder says so too.
        paused = {record_id for record_id, s in states.items() if s["paused"]}
        if not running:
            state = INACTIVE
        elif len(paused) == len(running):
            state = PAUSED
        else:
            state = RECORDING
        if running:
            muted = all(s["muted"] for s in states.values())
        else:
            muted = self._muted.get(source.id, False)
        width, height = self._frame_size(source.id)
        return RecorderInfo(source, state, muted, running, width, height,
                            self._preview_fps.get(source.id, DEFAULT_PREVIEW_FPS),
                            frozenset(paused))

    def _frame_size(self, source_id: int) -> tuple[int, int]:
        """The size of the pictures the station decodes (display size: at most 1280 wide),
        read from the source's frame slot. While nobody watches no frame is decoded: the
        newest keyframe is decoded into the slot once (no JPEG), and its size stays known."""
        try:
            frame = self.sources.frames(source_id).latest()
            if frame is None:
                rgb = self.recordings.recorder.snapshot(source_id)
                return (rgb.shape[1], rgb.shape[0]) if rgb is not None else (0, 0)
        except (Conflict, NotFound, UnknownSource):
            return 0, 0
        return frame.full_size or (frame.width, frame.height)

    # --- the state machine --------------------------------------------------------------
    def record(self, target: str | int | None) -> RecordOut:
        """Start the recorder; a muted recorder's recording starts muted."""
        with self._lock:
            info = self.recorder(target)
            if info.state != INACTIVE:
                raise IllegalState(f"recorder {info.source_id} is {info.state}: stop it first",
                                   field="target")
            stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
            tag = f"dc-{safe_name(info.source.name)}-{stamp}"
            try:
                (out,) = self.recordings.start_sources(tag, [info.source_id], origin=self.origin,
                                                       audio_muted=info.muted)
            except Conflict as exc:  # the source is not being read
                raise IllegalState(exc.message, field="target") from None
            return out

    def stop(self, target: str | int | None) -> list[RecordOut]:
        """Finalize every running record of the source, whoever started it."""
        with self._lock:
            info = self.recorder(target)
            if info.state == INACTIVE:
                raise IllegalState(f"recorder {info.source_id} is not recording", field="target")
            return [self.recordings.stop_record(r.id, origin=self.origin) for r in info.records]

    def files(self, records: list[RecordOut]) -> list[RecordOut]:
        """Every file of these recordings, oldest first: a long recording rolls over to a
        new file (record) every `segment_s`, the last one being the record stopped."""
        seen: dict[str, RecordOut] = {}
        for record in records:
            for item in self.recordings.recording_files(record.id) or [record]:
                seen.setdefault(item.id, item)
        return list(seen.values())

    def pause(self, target: str | int | None) -> RecorderInfo:
        """Pause the records not paused yet (one just resumed, too: it would go on at its
        next keyframe otherwise)."""
        with self._lock:
            info = self.recorder(target)
            if info.state != RECORDING:
                raise IllegalState(f"recorder {info.source_id} is {info.state}, not recording",
                                   field="target")
            for record in info.records:
                if record.id not in info.paused_ids:
                    self._guarded(self.recordings.pause, record.id, self.origin)
            return info

    def resume(self, target: str | int | None) -> RecorderInfo:
        with self._lock:
            info = self.recorder(target)
            if info.state != PAUSED:
                raise IllegalState(f"recorder {info.source_id} is {info.state}, not paused",
                                   field="target")
            for record in info.records:
                self._guarded(self.recordings.resume, record.id, self.origin)
            return info

    def set_muted(self, target: str | int | None, muted: bool) -> RecorderInfo:
        """Mute (drop the audio) or unmute the recorder's track, in any state: the running
        records now, and the recorder's next recording. The state it is in already is
        IllegalState."""
        with self._lock:
            info = self.recorder(target)
            if info.muted == muted:
                raise IllegalState(f"recorder {info.source_id} is "
                                   f"{'muted' if muted else 'not muted'} already", field="target")
            for record in info.records:
                if self.recordings.control_state(record.id)["muted"] != muted:
                    self._guarded(self.recordings.set_audio_muted, record.id, muted, self.origin)
            self._muted[info.source_id] = muted
            return info

    @staticmethod
    def _guarded(call, *args):
        """A record that stopped between reading the state and acting on it."""
        try:
            return call(*args)
        except Conflict as exc:
            raise IllegalState(exc.message, field="target") from None

    # --- photos and preview options ------------------------------------------------------
    def take_photo(self, target: str | int | None) -> Photo:
        """Save the source's latest picture as a JPEG file and announce it (`PhotoTaken`)."""
        source = self.source_of(target)
        try:
            jpeg = self.sources.picture_jpeg(source.id)
        except Conflict as exc:  # not being read, or no picture yet
            raise IllegalState(exc.message, field="target") from None
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
        self.photos_dir.mkdir(parents=True, exist_ok=True)
        path = self.photos_dir / f"{safe_name(source.name)}_{stamp}_{secrets.token_hex(3)}.jpg"
        tmp = path.with_name(path.name + ".part")
        tmp.write_bytes(jpeg)
        os.replace(tmp, path)
        photo = Photo(source.id, path)
        self.bus.publish(PhotoTaken(source.id, str(path), self.origin))
        return photo

    def photo_path(self, name: str) -> Path:
        """A saved photo by file name (nothing outside the photos folder)."""
        if not PHOTO_NAME.match(name or ""):
            raise NotFound("photo", repr(name), field="name")
        path = self.photos_dir / name
        if not path.is_file():
            raise NotFound("photo", repr(name), field="name")
        return path

    def set_preview_fps(self, target: str | int | None, fps: float) -> None:
        if not 0 < fps <= MAX_PREVIEW_FPS:
            raise InvalidInput(f"previewMaxFrameRate must be above 0 and at most "
                               f"{MAX_PREVIEW_FPS:g}", field="previewMaxFrameRate")
        source = self.source_of(target)
        with self._lock:
            self._preview_fps[source.id] = float(fps)
