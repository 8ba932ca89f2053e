"""Huawei Live record control (`POST /v1/{project_id}/record/control?action=START|STOP`) over
the station's recordings.

A Live stream is a source addressed by name: `app` is a group's name, `stream` the name of
a source in it. START records that one source under the tag named after the group (so the
native dialect and the GUI see it under `app`); STOP finalizes it. As on Huawei Live, START
needs the stream to be live (the source online), and a recording started this way ends once
its source stays offline longer than the interruption window; it does not restart by itself.

Optional recording callbacks (a configured URL) report RECORD_START and
RECORD_NEW_FILE_START when it starts, RECORD_FILE_COMPLETE and RECORD_OVER when it ends
(however it was stopped: here, natively, from the GUI, by the window), RECORD_FAILED when
the recorder lost the file; `download_url` is the record's native video URL on the station.
A long recording rolls over to a new file (a new record, `segment_s`): RECORD_FILE_COMPLETE
for the file that ended, RECORD_NEW_FILE_START for the next, and the task follows it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from app.catalog import Catalog
from app.dialects.huawei.callbacks import CallbackSender
from app.dialects.huawei.idle_watch import OfflineWatch
from app.dialects.huawei.streams import member_by_name
from app.errors import InvalidInput, NotFound
from app.events import EventBus, RecordingStarted, RecordingStopped
from app.recordings.recordings import RecordingService
from app.recordings.rollover import ROLLOVER
from app.schemas import RecordOut, RecordStatus, SourceStatus
from app.uri_policy import CALLBACK_SCHEMES, check_uri
from recorder.manager import RecorderManager
from recorder.outgoing import OutgoingPolicy
from recorder.probe import video_size

log = logging.getLogger(__name__)

ORIGIN = "huawei-live"


class StreamNotLive(NotFound):
    """START of a stream whose source is not online (not "being pushed")."""

    def __init__(self, stream: str):
        super().__init__("stream", repr(stream), field="stream")
        self.message = f"stream {stream!r} is not being pushed: its source is not online"
        self.args = (self.message,)


class NotRecording(NotFound):
    """STOP of a stream that records nothing under its app."""

    def __init__(self, app: str, stream: str):
        super().__init__("recording of stream", repr(stream), field="stream")
        self.message = f"stream {stream!r} of app {app!r} is not recording"
        self.args = (self.message,)


@dataclass(frozen=True)
class LiveTask:
    record_id: str
    project_id: str
    publish_domain: str
    app: str
    stream: str
    source_id: int
    base_url: str  # where the client reached the station: the callbacks' download_url


def huawei_time(iso: str | None) -> str | None:
    """`2026-11-21T10:15:04Z`, the callbacks' time format (no fraction)."""
    return iso[:19] + "Z" if iso else None


class LiveRecordService:
    def __init__(self, catalog: Catalog, recordings: RecordingService, recorder: RecorderManager,
                 bus: EventBus, *, outgoing: Callable[[], OutgoingPolicy] | None = None):
        self.catalog, self.recordings, self.recorder = catalog, recordings, recorder
        # settings, taken over by `configure` (also while the station runs)
        self.project_id: str | None = None
        self.publish_domains: tuple[str, ...] = ()
        self.interrupt_s: float = 30.0
        self.callback_url: str | None = None
        self._tasks: dict[str, LiveTask] = {}
        self._rolling: dict[tuple[int, str], LiveTask] = {}  # (source, app): file ended, next due
        self._lock = threading.Lock()
        self._sender: CallbackSender | None = None
        # where callbacks may connect (recorder.outgoing); None: loopback and private networks
        self.outgoing = outgoing
        self._watch = OfflineWatch(lambda sid: recorder.live_stats(sid).status,
                                   name="live-interruption")
        self._unsubscribe = bus.subscribe(self._on_event)

    def configure(self, *, project_id: str | None, publish_domains: list[str] | tuple[str, ...],
                  interrupt_s: float, callback_url: str | None) -> None:
        """Take over the settings; a callback URL the URI policy refuses (not http/https, a
        nested protocol) is not used, and the log says why (it comes from the settings, so
        refusing to start the station over it would be worse)."""
        self.project_id = project_id or None
        self.publish_domains = tuple(publish_domains or ())
        self.interrupt_s = interrupt_s
        self.callback_url = None
        if callback_url:
            try:
                self.callback_url = check_uri(callback_url, field="huawei_callback_url",
                                              schemes=CALLBACK_SCHEMES)
            except InvalidInput as exc:
                log.warning("Huawei Live callbacks are off: %s", exc.message)

    # --- START / STOP ------------------------------------------------------------------
    def start(self, project_id: str, publish_domain: str, app: str, stream: str, *,
              base_url: str) -> RecordOut:
        """Record the stream under tag `app`; `AlreadyRecording` if it does already,
        NotFound (naming the field) when the project, domain, app or stream is unknown or the
        stream is not live."""
        source_id = self._source_of(project_id, publish_domain, app, stream)
        if self.recorder.live_stats(source_id).status != SourceStatus.online:
            raise StreamNotLive(stream)
        record = self.recordings.start_one(app, source_id, origin=ORIGIN)
        task = LiveTask(record.id, project_id, publish_domain, app, stream, source_id,
                        base_url.rstrip("/"))
        with self._lock:
            self._tasks[record.id] = task
        self._notify(task, "RECORD_START")
        self._notify(task, "RECORD_NEW_FILE_START")
        self._watch.watch(record.id, source_id, self.interrupt_s, self._interrupted)
        status = self.recordings.get(record.id).status  # stopped meanwhile?
        if status != RecordStatus.recording:
            self._ended(record.id, status)
        return record

    def stop(self, project_id: str, publish_domain: str, app: str, stream: str) -> RecordOut:
        """Finalize the stream's running record under tag `app` (whoever started it)."""
        source_id = self._source_of(project_id, publish_domain, app, stream)
        record = self.recordings.running_record(app, source_id)
        if record is None:
            raise NotRecording(app, stream)
        return self.recordings.stop_record(record.id, origin=ORIGIN)

    def _source_of(self, project_id: str, publish_domain: str, app: str, stream: str) -> int:
        if self.project_id and project_id != self.project_id:
            raise NotFound("project", repr(project_id), field="project_id")
        if self.publish_domains and publish_domain not in self.publish_domains:
            raise NotFound("publish domain", repr(publish_domain), field="publish_domain")
        with self.catalog.session() as s:
            _, source = member_by_name(s, app, stream, group_field="app", source_field="stream")
            return source.id

    # --- endings -------------------------------------------------------------------------
    def _interrupted(self, record_id: str) -> None:
        log.info("live record %s: source offline longer than %.0f s, stopping",
                 record_id, self.interrupt_s)
        self.recordings.stop_record(record_id, origin=ORIGIN)

    def _on_event(self, event) -> None:
        if isinstance(event, RecordingStopped) and event.origin == ROLLOVER:
            self._file_ended(event.record_id)
        elif isinstance(event, RecordingStopped):
            self._ended(event.record_id, event.status)
        elif isinstance(event, RecordingStarted) and event.origin == ROLLOVER:
            self._next_file(event.record_id, event.source_id, event.tag_name)

    def _file_ended(self, record_id: str) -> None:
        """A file of a live recording rolled over: it is complete, the next one follows."""
        with self._lock:
            task = self._tasks.pop(record_id, None)
            if task is not None:
                self._rolling[(task.source_id, task.app)] = task
        if task is not None:
            self._watch.unwatch(record_id)
            self._notify(task, "RECORD_FILE_COMPLETE")

    def _next_file(self, record_id: str, source_id: int, tag_name: str) -> None:
        with self._lock:
            task = self._rolling.pop((source_id, tag_name), None)
            if task is None:
                return
            task = replace(task, record_id=record_id)
            self._tasks[record_id] = task
        self._notify(task, "RECORD_NEW_FILE_START")
        self._watch.watch(record_id, source_id, self.interrupt_s, self._interrupted)

    def _ended(self, record_id: str, status: str) -> None:
        with self._lock:
            task = self._tasks.pop(record_id, None)
        if task is None:
            return
        self._watch.unwatch(record_id)
        if status == RecordStatus.failed:
            self._notify(task, "RECORD_FAILED")
        else:
            self._notify(task, "RECORD_FILE_COMPLETE")
            self._notify(task, "RECORD_OVER")

    # --- callbacks -----------------------------------------------------------------------
    def _notify(self, task: LiveTask, event_type: str) -> None:
        url = self.callback_url
        if not url:
            return
        with self._lock:
            if self._sender is None:
                self._sender = CallbackSender(name="live-callbacks", policy=self.outgoing)
            sender = self._sender
        sender.post(url, lambda: self.payload(task, event_type))

    def payload(self, task: LiveTask, event_type: str) -> dict:
        """The callback body: Huawei Live's recording-callback fields."""
        record = self.recordings.get(task.record_id)
        finished = event_type in ("RECORD_FILE_COMPLETE", "RECORD_OVER", "RECORD_FAILED")
        has_file = finished and record.location and Path(record.location).is_file()
        width, height = video_size(record.location) if has_file else (None, None)
        return {
            "project_id": self.project_id or task.project_id,
            "job_id": record.id,
            "task_id": record.id,
            "event_type": event_type,
            "publish_domain": task.publish_domain,
            "app": task.app,
            "stream": task.stream,
            "record_format": "MP4",
            "download_url": f"{task.base_url}/api/v1/record/{record.id}/video" if has_file else None,
            "asset_id": record.id,
            "file_size": record.size_bytes if finished else None,
            "record_duration": round(record.duration_s) if finished and record.duration_s else 0,
            "start_time": huawei_time(record.begin_utc),
            "end_time": huawei_time(record.end_utc) if finished else None,
            "width": width,
            "height": height,
            "error": record.error if event_type == "RECORD_FAILED" else None,
        }

    def shutdown(self, timeout: float = 5.0) -> None:
        """After the recordings were finalized: stop watching, deliver what is queued."""
        self._watch.stop()
        self._unsubscribe()
        with self._lock:
            sender, self._sender = self._sender, None
        if sender is not None:
            sender.close(timeout)
