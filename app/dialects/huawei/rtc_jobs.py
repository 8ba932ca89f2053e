"""Huawei SparkRTC individual stream jobs (`/v2/apps/{app_id}/individual-stream-jobs`) over
the station's recordings and live forwards.

A job picks one source (`user_id`) of a group (`room_id`). With `record_param` it records
the source under the tag named after the group into `s_{job_id}_{room_id}_{user_id}.mp4`
(scaled by re-encoding for HD/SD/LD, without audio if asked); with
`publish_param.rtmp_urls` it forwards the source live to those RTMP URLs. States go
INIT (created, the source not yet online) -> RUNNING (the source online) -> STOPPED, never
back. A job stops when the tenant deletes it (TENANT_STOP), when its source stays offline
for `max_idle_time` seconds (EXCEED_MAX_IDLE_TIME), or when the station loses it
(INTERNAL_ERROR: the recording failed, the station shut down or crashed). Its record, once
started, is an ordinary record: stopping it from another dialect or the GUI stops the job.

A long recording rolls over to a new file (a new record, `segment_s`): the job follows it
(its `record_id` becomes the new record's), and goes on.

Jobs live in the catalog; at start-up a job a crash left running comes back STOPPED with
INTERNAL_ERROR, its file closed as `interrupted` by the recordings' own recovery.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

from sqlmodel import select

from app.catalog import Catalog
from app.dialects.huawei.idle_watch import OfflineWatch
from app.dialects.huawei.streams import member_by_name
from app.errors import Conflict, InvalidInput, NotFound
from app.events import EventBus, RecordingStarted, RecordingStopped
from app.ffmpeg_cmd import profile_of
from app.files import safe_name
from app.models import Record, RtcJob, Source, utcnow
from app.recordings.recordings import AlreadyRecording, RecordingService
from app.recordings.rollover import ROLLOVER
from app.schemas import (
    RecordStatus,
    RtcJobOut,
    RtcJobState,
    SourceStatus,
    iso_utc,
    mask_nested,
)
from app.uri_policy import FORWARD_SCHEMES, check_uri
from recorder.encoding import COPY, EncodeProfile, scaled
from recorder.manager import RecorderManager

log = logging.getLogger(__name__)

ORIGIN = "huawei-rtc"
VIDEO_TYPES = ("CAMERASTREAM", "SCREENSTREAM")
STREAM_TYPES = ("FHD", "HD", "SD", "LD")
MIN_IDLE_S, MAX_IDLE_S = 5, 43200
MAX_FORWARDS = 10  # rtmp_urls per job
INIT, RUNNING, STOPPED = RtcJobState.init, RtcJobState.running, RtcJobState.stopped
TENANT_STOP, EXCEED_MAX_IDLE_TIME, INTERNAL_ERROR = (
    "TENANT_STOP", "EXCEED_MAX_IDLE_TIME", "INTERNAL_ERROR")


class JobRunning(Conflict):
    """A job already runs for that room and user (or the source records under the room)."""


class JobDone(Conflict):
    """The job is stopped already."""


@dataclass(frozen=True)
class RtcJobSpec:
    """A create request, checked for shape by the dialect."""

    room_id: str
    user_id: str
    is_record_audio: bool = True
    video_type: str = "CAMERASTREAM"
    select_stream_type: str = "FHD"
    max_idle_time: int = 30
    publish_param: dict | None = None  # {"rtmp_urls": [...]}
    record_param: dict | None = None   # {"record_rule_id": ...}

    @property
    def rtmp_urls(self) -> list[str]:
        return list((self.publish_param or {}).get("rtmp_urls") or [])


def check_forward_urls(urls: object) -> list[str]:
    """`publish_param.rtmp_urls`: 1 to MAX_FORWARDS rtmp:// or rtmps:// URLs, each checked
    by the URI policy (no nested protocol, a real host); InvalidInput names the field."""
    if not isinstance(urls, list) or not 1 <= len(urls) <= MAX_FORWARDS:
        raise InvalidInput(f"publish_param.rtmp_urls must be a list of 1 to {MAX_FORWARDS} "
                           "rtmp:// or rtmps:// URLs", field="publish_param")
    for index, url in enumerate(urls):
        try:
            check_uri(url, field="publish_param", schemes=FORWARD_SCHEMES)
        except InvalidInput as exc:
            message = exc.message.replace("publish_param:", f"publish_param.rtmp_urls[{index}]:", 1)
            raise InvalidInput(message, field="publish_param") from None
    return list(urls)


def recording_profile(job: RtcJob, ffmpeg_cmd: str | None) -> EncodeProfile:
    """The source's own encoding, scaled for HD/SD/LD, without audio if asked."""
    try:
        profile = profile_of(ffmpeg_cmd)
    except InvalidInput:
        profile = COPY
    if job.select_stream_type != "FHD":
        profile = scaled(job.select_stream_type, profile)
    if not job.is_record_audio:
        profile = replace(profile, audio="none")
    return profile


def job_out(job: RtcJob) -> RtcJobOut:
    """A job as the service answers it: times in ISO 8601 UTC, stream keys masked."""
    return RtcJobOut(
        job_id=job.job_id, stream_name=job.stream_name, app_id=job.app_id, room_id=job.room_id,
        user_id=job.user_id, is_record_audio=job.is_record_audio, video_type=job.video_type,
        select_stream_type=job.select_stream_type, max_idle_time=job.max_idle_time,
        publish_param=mask_nested(job.publish_param), record_param=job.record_param,
        create_time=iso_utc(job.create_time), update_time=iso_utc(job.update_time),
        start_time=iso_utc(job.start_time), stop_time=iso_utc(job.stop_time), state=job.state,
        stop_reason=job.stop_reason, description=job.description, record_id=job.record_id)


class RtcJobService:
    def __init__(self, catalog: Catalog, recordings: RecordingService, recorder: RecorderManager,
                 bus: EventBus):
        self.catalog, self.recordings, self.recorder = catalog, recordings, recorder
        self._lock = threading.RLock()          # create/stop/end of jobs, one at a time
        self._records: dict[str, str] = {}      # record id -> job id, of live jobs
        self._rolling: dict[tuple[int, str], str] = {}  # (source, room) -> job id, file ended
        self._forwards: dict[str, list[tuple[int, str]]] = {}  # job id -> (source, forward id)
        self._watch = OfflineWatch(lambda sid: recorder.live_stats(sid).status, name="rtc-idle")
        self._followups = ThreadPoolExecutor(1, thread_name_prefix="rtc-jobs")
        self._unsubscribe = bus.subscribe(self._on_event)

    # --- queries -----------------------------------------------------------------------
    def get(self, app_id: str, job_id: str) -> RtcJobOut:
        with self.catalog.session() as s:
            return job_out(self._row(s, app_id, job_id))

    @staticmethod
    def _row(s, app_id: str, job_id: str) -> RtcJob:
        row = s.get(RtcJob, job_id)
        if row is None or row.app_id != app_id:
            raise NotFound("job", job_id, field="job_id")
        return row

    # --- create / update / stop ------------------------------------------------------------
    def create(self, app_id: str, spec: RtcJobSpec) -> RtcJobOut:
        """Check everything, then start the recording and the forwards, then store the job:
        a refused request stores nothing."""
        self._check_spec(spec)
        with self._lock:
            with self.catalog.session() as s:
                _, src = member_by_name(s, spec.room_id, spec.user_id,
                                        group_field="room_id", source_field="user_id")
                if spec.video_type == "SCREENSTREAM" and not (src.uri_rtsp or "").startswith("screen:"):
                    raise InvalidInput(f"video_type SCREENSTREAM needs a screen-capture source; "
                                       f"{spec.user_id!r} is not one", field="video_type")
                busy = s.exec(select(RtcJob.job_id).where(
                    RtcJob.room_id == spec.room_id, RtcJob.user_id == spec.user_id,
                    RtcJob.state != STOPPED)).first()
                if busy is not None:
                    raise JobRunning(f"job {busy} already runs for room {spec.room_id!r} and "
                                     f"user {spec.user_id!r}", field="user_id")
                if not self.recorder.has_source(src.id):
                    raise InvalidInput(f"source {spec.user_id!r} is disabled", field="user_id")
                source_id, ffmpeg_cmd = src.id, src.ffmpeg_cmd
            job = RtcJob(app_id=app_id, room_id=spec.room_id, user_id=spec.user_id,
                         source_id=source_id, stream_name="", is_record_audio=spec.is_record_audio,
                         video_type=spec.video_type, select_stream_type=spec.select_stream_type,
                         max_idle_time=spec.max_idle_time, publish_param=spec.publish_param,
                         record_param=spec.record_param)
            job.stream_name = f"s_{job.job_id}_{spec.room_id}_{spec.user_id}"
            if spec.record_param is not None:
                job.record_id = self._start_record(job, ffmpeg_cmd)
            try:
                self._start_forwards(job, spec.rtmp_urls)
            except Exception:
                if job.record_id:  # nothing of a refused job stays behind
                    self.recordings.stop_record(job.record_id, origin=ORIGIN)
                raise
            if self.recorder.live_stats(source_id).status == SourceStatus.online:
                job.state, job.start_time = RUNNING, utcnow()
            with self.catalog.session() as s:
                s.add(job)
            if job.record_id:
                self._records[job.record_id] = job.job_id
        self._watch.watch(job.job_id, source_id, job.max_idle_time, self._idle_expired,
                          on_online=self._came_online)
        return job_out(job)

    def update(self, app_id: str, job_id: str, record_param: dict) -> RtcJobOut:
        """New `record_param`; a job that only forwarded starts recording now."""
        with self._lock:
            with self.catalog.session() as s:
                job = self._row(s, app_id, job_id)
                if job.state == STOPPED:
                    raise JobDone(f"job {job_id} is stopped", field="job_id")
                ffmpeg_cmd = None
                if job.record_id is None and job.source_id is not None:
                    src = s.get(Source, job.source_id)
                    ffmpeg_cmd = src.ffmpeg_cmd if src else None
            if job.record_id is None:
                job.record_id = self._start_record(job, ffmpeg_cmd)
                self._records[job.record_id] = job.job_id
            with self.catalog.session() as s:
                row = self._row(s, app_id, job_id)
                row.record_param, row.record_id, row.update_time = record_param, job.record_id, utcnow()
                s.add(row)
                return job_out(row)

    def stop(self, app_id: str, job_id: str) -> RtcJobOut:
        """The tenant's DELETE; `JobDone` if the job is stopped already."""
        with self._lock:
            if self.get(app_id, job_id).state == STOPPED:
                raise JobDone(f"job {job_id} is stopped already", field="job_id")
            return job_out(self._end(job_id, TENANT_STOP, "stopped by the tenant"))

    def _check_spec(self, spec: RtcJobSpec) -> None:
        if spec.video_type not in VIDEO_TYPES:
            raise InvalidInput(f"video_type must be one of {', '.join(VIDEO_TYPES)}", field="video_type")
        if spec.select_stream_type not in STREAM_TYPES:
            raise InvalidInput(f"select_stream_type must be one of {', '.join(STREAM_TYPES)}",
                               field="select_stream_type")
        if not MIN_IDLE_S <= spec.max_idle_time <= MAX_IDLE_S:
            raise InvalidInput(f"max_idle_time must be {MIN_IDLE_S} to {MAX_IDLE_S} seconds",
                               field="max_idle_time")
        if spec.publish_param is None and spec.record_param is None:
            raise InvalidInput("give publish_param or record_param (or both)",
                               field="record_param", kind="missing")
        if spec.publish_param is not None:
            check_forward_urls(spec.publish_param.get("rtmp_urls"))

    def _start_record(self, job: RtcJob, ffmpeg_cmd: str | None) -> str:
        name = "_".join(safe_name(part) for part in ("s", job.job_id, job.room_id, job.user_id))
        try:
            record = self.recordings.start_one(job.room_id, job.source_id,
                                               profile=recording_profile(job, ffmpeg_cmd),
                                               file_name=f"{name}.mp4", origin=ORIGIN)
        except AlreadyRecording as exc:
            raise JobRunning(f"{exc.message}: stop that recording first", field="user_id") from None
        return record.id

    def _start_forwards(self, job: RtcJob, urls: list[str]) -> None:
        started = []
        for i, url in enumerate(urls):
            forward_id = f"{job.job_id}-{i}"
            self.recorder.start_forward(job.source_id, forward_id, url)
            started.append((job.source_id, forward_id))
        if started:
            self._forwards[job.job_id] = started

    # --- endings ---------------------------------------------------------------------------
    def _end(self, job_id: str, reason: str, description: str) -> RtcJob | None:
        """Mark the job STOPPED first (so the record's own stop event is known as ours),
        then finalize its record and close its forwards."""
        with self._lock:
            with self.catalog.session() as s:
                job = s.get(RtcJob, job_id)
                if job is None or job.state == STOPPED:
                    return job
                job.record_id = self._current_record(job_id, job.record_id)
                job.state, job.stop_reason, job.description = STOPPED, reason, description
                job.stop_time = job.update_time = utcnow()
                s.add(job)
            for record_id in [r for r, j in list(self._records.items()) if j == job_id]:
                self._records.pop(record_id, None)
            self._watch.unwatch(job_id)
            for source_id, forward_id in self._forwards.pop(job_id, []):
                self.recorder.stop_forward(source_id, forward_id)
        if job.record_id:
            record = self.recordings.stop_record(job.record_id, origin=ORIGIN)
            if record.status == RecordStatus.failed and reason != INTERNAL_ERROR:
                log.info("rtc job %s: its record failed (%s)", job_id, record.error)
        return job

    def _idle_expired(self, job_id: str) -> None:
        with self.catalog.session() as s:
            job = s.get(RtcJob, job_id)
            limit = job.max_idle_time if job else 0
        self._end(job_id, EXCEED_MAX_IDLE_TIME,
                  f"the source stayed offline longer than max_idle_time ({limit} s)")

    def _came_online(self, job_id: str) -> None:
        with self._lock, self.catalog.session() as s:
            job = s.get(RtcJob, job_id)
            if job is not None and job.state == INIT:
                job.state, job.start_time = RUNNING, utcnow()
                job.update_time = job.start_time
                s.add(job)

    def _current_record(self, job_id: str, stored: str | None) -> str | None:
        """The record a job writes now: the catalog's may lag behind a rollover."""
        with self._lock:
            for record_id, owner in list(self._records.items()):
                if owner == job_id:
                    return record_id
        return stored

    def _on_event(self, event) -> None:
        """A job's record stopped by someone else (another dialect, the GUI, a failure):
        the job ends with it, on the follow-up thread (a bus subscriber must be quick).
        A rollover moves the job to the next file's record instead."""
        if isinstance(event, RecordingStarted) and event.origin == ROLLOVER:
            self._follow(event)
            return
        if not isinstance(event, RecordingStopped):
            return
        job_id = self._records.get(event.record_id)
        if job_id is None:
            return
        if event.origin == ROLLOVER:
            self._records.pop(event.record_id, None)
            self._rolling[(event.source_id, event.tag_name)] = job_id
            return
        if event.status == RecordStatus.failed or event.origin in ("shutdown", "recorder"):
            reason, text = INTERNAL_ERROR, f"the recording ended ({event.status}, {event.origin})"
        else:
            reason, text = TENANT_STOP, f"the recording was stopped ({event.origin})"
        try:
            self._followups.submit(self._end, job_id, reason, text)
        except RuntimeError:  # shutting down: `shutdown` ends the job itself
            pass

    def _follow(self, event: RecordingStarted) -> None:
        job_id = self._rolling.pop((event.source_id, event.tag_name), None)
        if job_id is None:
            return
        self._records[event.record_id] = job_id
        try:
            self._followups.submit(self._store_record, job_id, event.record_id)
        except RuntimeError:  # shutting down
            pass

    def _store_record(self, job_id: str, record_id: str) -> None:
        """The job's `record_id` in the catalog follows the rollover (when it can be
        written: the job follows it in memory anyway)."""
        try:
            with self._lock, self.catalog.session() as s:
                job = s.get(RtcJob, job_id)
                if job is not None and job.state != STOPPED:
                    job.record_id, job.update_time = record_id, utcnow()
                    s.add(job)
        except Exception as exc:  # noqa: BLE001 - a full disk: the memory keeps it
            log.warning("rtc job %s: cannot store its next record %s (%s)", job_id, record_id, exc)

    # --- station life ----------------------------------------------------------------------
    def recover_interrupted(self) -> int:
        """At start-up, after the recordings' recovery: jobs a crash left INIT or RUNNING
        become STOPPED with INTERNAL_ERROR; their record (if any) keeps what was saved."""
        with self.catalog.session() as s:
            rows = s.exec(select(RtcJob).where(RtcJob.state != STOPPED)).all()
            for job in rows:
                record = s.get(Record, job.record_id) if job.record_id else None
                job.state, job.stop_reason = STOPPED, INTERNAL_ERROR
                job.description = "the station stopped while the job ran; the file is kept"
                job.stop_time = (record.end_utc if record and record.end_utc else None) or utcnow()
                job.update_time = utcnow()
                s.add(job)
        if rows:
            log.warning("stopped %d RTC job(s) interrupted by an earlier crash", len(rows))
        return len(rows)

    def shutdown(self) -> None:
        """Before the recordings are finalized: end every live job (INTERNAL_ERROR)."""
        self._followups.shutdown(wait=True)
        self._unsubscribe()
        with self.catalog.session() as s:
            live = s.exec(select(RtcJob.job_id).where(RtcJob.state != STOPPED)).all()
        for job_id in live:
            self._end(job_id, INTERNAL_ERROR, "the station shut down")
        self._watch.stop()
