"""The recorder manager: the one object the core talks to. It owns a worker per enabled
source and routes recording commands to them, and holds what applies to every source: the
pre-roll, the rotation length (`set_segment_s`) and the fsync period (`set_fsync_s`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from recorder.analysis import AnalysisSlot
from recorder.encoding import COPY, EncodeProfile
from recorder.forward import LiveForward
from recorder.frames import FrameSlot
from recorder.durability import FileSyncer
from recorder.mp4file import RecordingResult
from recorder.outgoing import OutgoingPolicy
from recorder.rollover import RolloverCallback
from recorder.worker import (FailureCallback, NextFile, SourceCounters, SourceSpec, SourceWorker,
                             StatusCallback)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LiveStats:
    status: str
    error: str | None
    retry_at: float | None  # wall time of the next connection attempt while waiting
    fps: float


class UnknownSource(KeyError):
    """No worker runs for that source id (deleted or disabled)."""


class RecorderManager:
    def __init__(self, *, on_status: StatusCallback | None = None,
                 on_failure: FailureCallback | None = None, preroll_bytes: int = 16 << 20,
                 preroll_s: float = 0.0, policy: Callable[[], OutgoingPolicy] | None = None,
                 on_rollover: RolloverCallback | None = None, segment_s: float = 0.0,
                 fsync_s: float = 0.0, reconnect_max_s: float = 30.0):
        """`on_rollover(source_id, old_record_id, old_result, new_record_id, new_path,
        new_begin_wall)` comes on a thread of its own once a rolled-over file is final;
        `segment_s`, `fsync_s`, `reconnect_max_s`: as `set_segment_s`, `set_fsync_s`,
        `set_reconnect_max_s` (each may change later)."""
        # The outgoing-address policy of now (the core's, rebuilt on a settings change): every
        # source's and preview's connection asks it; None: loopback and private networks.
        self.policy = policy
        self._on_status = on_status or (lambda *_: None)
        self._on_failure = on_failure or (lambda *_: None)
        self._on_rollover: RolloverCallback = on_rollover or (lambda *_: None)
        self._preroll_bytes = preroll_bytes
        self._preroll_s = preroll_s
        self._keep_s: dict[int, float] = {}  # sources asked to buffer more (keep_preroll)
        self._analysis: dict[int, AnalysisSlot] = {}  # sources analysed (analysis_slot)
        self._segment_s = max(0.0, float(segment_s))
        self._reconnect_max_s = float(reconnect_max_s)
        self._workers: dict[int, SourceWorker] = {}
        self._lock = threading.RLock()
        self._syncer = FileSyncer(self._open_paths)
        if fsync_s:
            self._syncer.set_period(fsync_s)

    def set_callbacks(self, *, on_status: StatusCallback, on_failure: FailureCallback,
                      on_rollover: RolloverCallback | None = None) -> None:
        """`on_rollover(source_id, old_record_id, old_result, new_record_id, new_path,
        new_begin_wall)` comes on a thread of its own once a rolled-over file is final."""
        self._on_status, self._on_failure = on_status, on_failure
        if on_rollover is not None:
            self._on_rollover = on_rollover

    def _worker(self, source_id: int) -> SourceWorker:
        worker = self._workers.get(source_id)
        if worker is None:
            raise UnknownSource(source_id)
        return worker

    # --- sources -------------------------------------------------------------------
    def ensure_source(self, spec: SourceSpec) -> None:
        """Start reading `spec`, or restart when its URI changed (recordings must be
        stopped by the caller first: a restart would cut their files). A changed preview
        stream alone is swapped without a restart."""
        if spec.policy is None and self.policy is not None:
            spec = replace(spec, policy=self.policy)
        with self._lock:
            current = self._workers.get(spec.id)
            if (current is not None and current.is_alive()
                    and (current.spec.uri, current.spec.picture) == (spec.uri, spec.picture)):
                if current.spec.uri_preview != spec.uri_preview:
                    current.set_preview(spec)  # the main reader and its recordings go on
                return
            if current is not None:
                self.remove_source(spec.id)
            worker = SourceWorker(spec, on_status=lambda *a: self._on_status(*a),
                                  on_failure=lambda *a: self._on_failure(*a),
                                  on_rollover=lambda *a: self._on_rollover(*a),
                                  preroll_bytes=self._preroll_bytes, preroll_s=self._preroll_s,
                                  segment_s=self._segment_s,
                                  reconnect_max_s=self._reconnect_max_s)
            worker.sync_on_close = self._syncer.period_s > 0
            worker.keep_preroll(self._keep_s.get(spec.id, 0.0))
            worker.set_analysis(self._analysis.get(spec.id))  # a new reader: analysis goes on
            self._workers[spec.id] = worker
            worker.start()

    def set_preroll(self, seconds: float, max_bytes: int) -> None:
        """Pre-roll of every source, running or started later: recordings begin at the last
        keyframe at least `seconds` before Start, within `max_bytes` of buffer per source."""
        with self._lock:
            self._preroll_s, self._preroll_bytes = seconds, max_bytes
            workers = list(self._workers.values())
        for worker in workers:
            worker.set_preroll(seconds, max_bytes)

    def set_segment_s(self, seconds: float) -> None:
        """Rotation of every recording started with a `next_file`: a new file at the first
        video keyframe at or after `seconds` of file time (0: never). Live."""
        with self._lock:
            self._segment_s = max(0.0, float(seconds))
            workers = list(self._workers.values())
        for worker in workers:
            worker.segment_s = self._segment_s

    def set_reconnect_max_s(self, seconds: float) -> None:
        """The longest wait between two attempts to reach a lost camera (main and preview
        streams), for every source, running or started later. Live."""
        with self._lock:
            self._reconnect_max_s = float(seconds)
            workers = list(self._workers.values())
        for worker in workers:
            worker.set_reconnect_max_s(self._reconnect_max_s)

    def set_fsync_s(self, seconds: float) -> None:
        """fsync every open recording at most every `seconds` (0: never; the OS writes back
        on its own), on a thread of its own: a slow disk never stalls a reader. Files are
        also fsynced when they close while this is on. Live."""
        self._syncer.set_period(seconds)
        with self._lock:
            workers = list(self._workers.values())
        for worker in workers:
            worker.sync_on_close = seconds > 0

    def _open_paths(self):
        with self._lock:
            workers = list(self._workers.values())
        return [path for worker in workers for path in worker.open_paths()]

    def retry_now(self, source_id: int) -> None:
        """A source waiting to reconnect tries at once (an operator opened it)."""
        self._worker(source_id).retry_now()

    def remove_source(self, source_id: int) -> list[RecordingResult]:
        with self._lock:
            worker = self._workers.pop(source_id, None)
        if worker is None:
            return []
        results = [r for rid in worker.recording_ids() if (r := worker.stop_recording(rid))]
        worker.stop()
        return results

    def has_source(self, source_id: int) -> bool:
        return source_id in self._workers

    def status(self, source_id: int) -> tuple[str, str | None]:
        worker = self._workers.get(source_id)
        if worker is None:
            return "offline", "the source is disabled"
        return worker.status, worker.error

    def live_stats(self, source_id: int) -> LiveStats:
        """What a tile shows besides the picture; a cheap in-memory read."""
        worker = self._workers.get(source_id)
        if worker is None:
            return LiveStats("offline", "the source is disabled", None, 0.0)
        return LiveStats(worker.status, worker.error, worker.retry_at, round(worker.fps, 1))

    def counters(self) -> dict[int, SourceCounters]:
        """Every reader's totals and rates by source id (monitoring); from memory."""
        with self._lock:
            workers = list(self._workers.items())
        return {source_id: worker.counters() for source_id, worker in workers}

    def reader(self, source_id: int) -> str | None:
        """Who reads the source now: "station" (its own RTSP client) or "ffmpeg"; None while
        it is not connected."""
        worker = self._workers.get(source_id)
        source = worker.input if worker is not None else None
        return source.reader if source is not None else None

    def frames(self, source_id: int, preview: bool = False) -> FrameSlot:
        """The main stream's slot, or with `preview` the preview stream's when the source has
        one (else the main's: a caller never needs to know which sources have one)."""
        worker = self._worker(source_id)
        if preview and worker.preview is not None:
            return worker.preview.slot
        return worker.slot

    def analysis_slot(self, source_id: int, fps: float) -> AnalysisSlot | None:
        """Start (or re-rate) motion analysis input for the source: grey pictures at `fps`
        from its preview stream's decoder when it has one, else from its main stream's
        keyframes (`AnalysisSlot.input` says which). The same slot stays the source's while
        its readers change (a new address, a preview added) until `release_analysis`. None
        while no reader runs for the source (disabled, removed)."""
        with self._lock:
            worker = self._workers.get(source_id)
            if worker is None:
                return None
            slot = self._analysis.get(source_id)
            if slot is None:
                slot = AnalysisSlot("preview" if worker.preview is not None else "keyframes", fps)
                self._analysis[source_id] = slot
            slot.fps = fps
        worker.set_analysis(slot)
        return slot

    def release_analysis(self, source_id: int) -> None:
        """No more analysis of the source: its decoders go back to what viewers ask."""
        with self._lock:
            slot = self._analysis.pop(source_id, None)
            worker = self._workers.get(source_id)
        if worker is not None:
            worker.set_analysis(None)
        if slot is not None:
            slot.wake()

    def snapshot(self, source_id: int) -> np.ndarray | None:
        return self._worker(source_id).snapshot()

    # --- recordings ----------------------------------------------------------------
    def start_recording(self, source_id: int, record_id: str, path: Path,
                        profile: EncodeProfile = COPY,
                        next_file: NextFile | None = None, audio_muted: bool = False,
                        preroll_s: float | None = None) -> float | None:
        """Start a file; `next_file` (pure: no catalog, no I/O) names the next segment's
        (record id, path) when it rolls over (see `set_segment_s`, `on_rollover`);
        `audio_muted` starts it without audio until unmuted; `preroll_s` (None: the
        setting) begins it at a keyframe that far back, within what `keep_preroll` keeps."""
        return self._worker(source_id).start_recording(record_id, path, profile, next_file,
                                                       audio_muted, preroll_s)

    def keep_preroll(self, source_id: int, seconds: float) -> None:
        """Buffer at least `seconds` of the source (0: the setting alone), now and in every
        reader it gets later, for starts asking for that much pre-roll (`preroll_mb` still
        bounds it)."""
        with self._lock:
            if seconds > 0:
                self._keep_s[source_id] = seconds
            else:
                self._keep_s.pop(source_id, None)
            worker = self._workers.get(source_id)
        if worker is not None:
            worker.keep_preroll(seconds)

    def stop_recording(self, source_id: int, record_id: str) -> RecordingResult | None:
        worker = self._workers.get(source_id)
        return worker.stop_recording(record_id) if worker is not None else None

    def pause_recording(self, source_id: int, record_id: str) -> None:
        self._worker(source_id).pause_recording(record_id)

    def resume_recording(self, source_id: int, record_id: str) -> None:
        self._worker(source_id).resume_recording(record_id)

    def set_audio_muted(self, source_id: int, record_id: str, muted: bool) -> None:
        self._worker(source_id).set_audio_muted(record_id, muted)

    def recording_state(self, source_id: int, record_id: str) -> dict:
        """{"paused": bool, "muted": bool} of a running recording."""
        return self._worker(source_id).recording_state(record_id)

    # --- live forwards --------------------------------------------------------------
    def start_forward(self, source_id: int, forward_id: str, url: str) -> LiveForward:
        return self._worker(source_id).start_forward(forward_id, url)

    def stop_forward(self, source_id: int, forward_id: str) -> None:
        worker = self._workers.get(source_id)
        if worker is not None:
            worker.stop_forward(forward_id)

    def shutdown(self) -> None:
        """Stop every worker; recordings must have been finalized by the core before."""
        with self._lock:
            workers = list(self._workers.values())
            self._workers.clear()
        self._syncer.stop()
        for worker in workers:
            worker.request_stop()  # all at once, then wait for each
        for worker in workers:
            worker.stop(timeout=2.0)
