"""One thread per source: read packets, keep the last keyframe group(s) as pre-roll, copy packets into
every recording of this source, offer video packets to the decoder. Reconnects with capped
exponential backoff and jitter while idle, but at least every `RECORDING_RETRY_S` while a
recording is attached (a recording loses footage every second it waits); `retry_now` ends any
wait at once. Rolls a long recording over to a new file at a keyframe (`recorder.rollover`).
Reports its status through a callback. A source with a preview stream (`uri_preview`) gets
a second reader for it (`recorder.preview`), only for pictures; this one records as ever and
decodes only when somebody watches its own slot (a focused tile).

Locking: `_lock` guards the list of recordings and the GOP. The reader holds it only while
copying one packet into the recordings, never while waiting on the network, so starting and
stopping a recording from another thread is immediate whatever the camera does.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import av
import numpy as np

from recorder.encoding import COPY, EncodeProfile
from recorder.forward import LiveForward
from recorder.analysis import AnalysisSlot
from recorder.frames import Decoder, Demand, Frame, FrameSlot, decode_keyframe
from recorder.inputs import InputError, PacketInput, RefusedInput, open_input, public_reason
from recorder.mp4file import Mp4Recording, RecordingResult
from recorder.outgoing import OutgoingPolicy
from recorder.picture import PictureInput, PictureSpec
from recorder.preroll import Preroll
from recorder.preview import PreviewReader
from recorder.redact import redact
from recorder.rollover import RolloverCallback, Rollovers
from recorder.rtsp_input import RtspInput
from recorder.timeline import TICKS, Splice
from recorder.transcode import TranscodeRecording

log = logging.getLogger(__name__)
StatusCallback = Callable[[int, str, "str | None"], None]
Recording = Mp4Recording | TranscodeRecording
FailureCallback = Callable[[str, str], None]
NextFile = Callable[[], "tuple[str, Path]"]  # the core's: (new record id, path) of a segment
RECORDING_RETRY_S = 0.5  # the longest wait between connection attempts while recording
FULL_SIZE_WAIT_S = 0.5  # a snapshot waits this long for a full-size picture from a focused tile
CATCH_UP_S = 1.0  # the longest a stop or pause waits for the reader to take in what arrived


@dataclass(frozen=True)
class SourceSpec:
    """What the recorder needs to know about a source; nothing about the catalog."""

    id: int
    name: str
    uri: str
    picture: PictureSpec | None = None  # set for an HTTP snapshot camera
    uri_preview: str | None = None  # a smaller stream of the camera, for tiles only
    # The core's policy, asked before every connection attempt (its settings may have changed
    # since, a symlink may point elsewhere now): the URI to open, or `RefusedInput`.
    vet: Callable[[str], str] | None = field(default=None, compare=False, repr=False)
    # The outgoing-address policy of now (recorder.outgoing), asked at every connection; the
    # manager sets its own. None: loopback and private networks only.
    policy: Callable[[], OutgoingPolicy] | None = field(default=None, compare=False, repr=False)

    def open(self) -> PacketInput:
        uri = self.vet(self.uri) if self.vet is not None else self.uri
        policy = self.policy() if self.policy is not None else None
        if self.picture is not None:
            picture = self.picture if uri == self.picture.uri else replace(self.picture, uri=uri)
            return PictureInput(picture, policy=policy)
        return open_input(uri, policy)


def _preview_reader(spec: SourceSpec, backoff: Backoff) -> PreviewReader | None:
    return PreviewReader(spec.id, spec.uri_preview, spec.vet, backoff,
                         policy=spec.policy) if spec.uri_preview else None


@dataclass
class Backoff:
    """Capped exponential backoff with full jitter on the upper half."""

    first: float = 1.0
    cap: float = 30.0
    attempt: int = 0

    def next_delay(self) -> float:
        base = min(self.cap, self.first * (2 ** self.attempt))
        self.attempt += 1
        return base / 2 + random.uniform(0, base / 2)

    def reset(self) -> None:
        self.attempt = 0


@dataclass(frozen=True)
class SourceCounters:
    """A reader's running totals and rates, for monitoring (`RecorderManager.counters`).
    The totals start at 0 with each reader (a restarted source starts again)."""

    name: str              # as the reader was started (a rename does not restart it)
    status: str
    fps: float
    bitrate_bps: float     # bits read per second, measured over the same window as fps
    bytes_read: int        # every packet read from the source
    reconnects: int        # times the source came back online after losing it
    packets_written: int   # packets written into this source's files, all of them
    bytes_written: int
    recordings: int        # files open now
    paused: int            # of them, paused
    packets_read: int = 0  # every packet read from the source
    # Wall time (time.time()) the newest packet arrived; None before the first: how long a
    # camera has been silent (app.alarms.camera_watch opens `camera_lost` from it).
    last_packet_wall: float | None = None


class SourceWorker(threading.Thread):
    def __init__(self, spec: SourceSpec, *, on_status: StatusCallback, on_failure: FailureCallback,
                 preroll_bytes: int = 16 << 20, preroll_s: float = 0.0,
                 on_rollover: RolloverCallback | None = None, segment_s: float = 0.0,
                 reconnect_max_s: float = Backoff.cap):
        super().__init__(name=f"source-{spec.id}", daemon=True)
        self.spec = spec
        self.slot = FrameSlot()
        self.slot.on_watch = self._wake_input  # a new viewer: read now, in short batches
        self.decoder = Decoder(str(spec.id), self.slot)
        # The longest wait between two attempts to reach the camera, main and preview stream
        # alike (`set_reconnect_max_s`: the station's setting, live).
        self._backoff = Backoff(cap=reconnect_max_s)
        self._preview_backoff = Backoff(cap=reconnect_max_s)
        self.preview = _preview_reader(spec, self._preview_backoff)
        self._analysis: AnalysisSlot | None = None  # motion analysis listening (set_analysis)
        self._on_status = on_status
        self._on_failure = on_failure
        self.preroll = Preroll(preroll_s, preroll_bytes)
        self._stopping = threading.Event()
        self._wakeup = threading.Event()  # ends a wait between connection attempts
        self._lock = threading.RLock()  # `_fail` re-enters it from `_write`
        self._recordings: dict[str, Recording] = {}
        self._failed: dict[str, Recording] = {}  # stopped by a write error, not yet closed
        self._forwards: dict[str, LiveForward] = {}
        self._paused: set[str] = set()     # records not written to for now
        self._resuming: set[str] = set()   # records waiting for a keyframe to go on
        self._muted: set[str] = set()      # records whose audio is dropped for now
        self._splices: dict[str, Splice] = {}
        # Rotation: the recordings the core gave a `next_file` for, and the profile to open
        # their next file with. `segment_s` 0: never.
        self.segment_s = segment_s
        self.sync_on_close = False  # fsync a file when it closes (the manager's fsync setting)
        self._next_file: dict[str, NextFile] = {}
        self._profiles: dict[str, EncodeProfile] = {}
        self._rollovers = Rollovers(spec.id, on_rollover or (lambda *_: None),
                                    lambda *a: self._on_failure(*a))
        # Recordings started but not written to yet: record id -> (session, wall time of Start).
        # The reader writes their pre-roll once it has read everything that arrived before
        # Start (an input may hand packets over in batches), then their live packets.
        self._pending: dict[str, tuple[object, float]] = {}
        self._preroll_from: dict[str, float] = {}  # a start's own pre-roll, in seconds
        self._input: PacketInput | None = None
        self._session: object | None = None
        self.status = "connecting"
        self.error: str | None = None
        self._open_detail: str | None = None  # why the last attempt failed, for the log
        self.retry_at: float | None = None  # wall time of the next connection attempt
        self.fps = 0.0                      # video packets per second, measured
        self.bitrate_bps = 0.0              # bits read per second, measured with the fps
        # Monitoring totals (`counters`): plain ints, each written by one thread at a time
        # (the reader; the written ones under `_lock`), read without a lock.
        self.bytes_read = 0
        self.packets_read = 0
        self.last_packet_wall: float | None = None
        self.reconnects = 0
        self.packets_written = 0
        self.bytes_written = 0
        self._came_online = False
        self._fps_window = (time.monotonic(), 0, 0)  # since, frames, bytes_read then

    # --- control, from any thread --------------------------------------------------
    def request_stop(self) -> None:
        """Ask the reader to end, without waiting (a manager stops many workers at once)."""
        self._stopping.set()
        self._wakeup.set()

    def stop(self, timeout: float = 3.0) -> None:
        self.request_stop()
        self.decoder.stop()
        if self.preview is not None:
            self.preview.stop(timeout)
        self.join(timeout)

    def retry_now(self) -> None:
        """Connect now if the worker is waiting to reconnect (an operator is looking, a
        recording starts); later failures back off from the start again."""
        self._backoff.reset()
        self._wakeup.set()

    def set_preview(self, spec: SourceSpec) -> None:
        """Take `spec`'s preview stream (added, changed or removed) without touching the main
        reader: its recordings and pre-roll go on. Its slot is a new one (viewers ask again)."""
        self._preview_backoff = Backoff(cap=self._backoff.cap)
        preview = _preview_reader(spec, self._preview_backoff)
        with self._lock:
            old, self.preview, self.spec = self.preview, preview, spec
            self._attach_analysis()
            if preview is not None and self.is_alive() and not self._stopping.is_set():
                preview.start()
        if old is not None:
            old.decoder.set_analysis(None)
            old.stop()

    def set_analysis(self, slot: AnalysisSlot | None) -> None:
        """Feed motion analysis into `slot` (None: stop): from the preview stream's decoder
        when the source has one (every picture), else from the main stream's keyframes. A
        preview stream added or removed later moves it (`set_preview`)."""
        with self._lock:
            self._analysis = slot
            self._attach_analysis()

    def _attach_analysis(self) -> None:
        """(lock held) Point the decoders at the analysis slot, as the preview stream is."""
        slot, preview = self._analysis, self.preview
        if slot is None:
            self.decoder.set_analysis(None)
            if preview is not None:
                preview.decoder.set_analysis(None)
        elif preview is not None:
            slot.input = "preview"
            self.decoder.set_analysis(None)
            preview.decoder.set_analysis(slot, Demand.ALL)
        else:
            slot.input = "keyframes"
            self.decoder.set_analysis(slot, Demand.KEYFRAMES)

    def _new_recording(self, record_id: str, path: Path, profile: EncodeProfile) -> Recording:
        if profile.copies_video:
            return Mp4Recording(path, profile)
        return TranscodeRecording(path, profile,
                                  on_error=lambda message: self._fail(record_id, message))

    def start_recording(self, record_id: str, path: Path, profile: EncodeProfile = COPY,
                        next_file: NextFile | None = None, audio_muted: bool = False,
                        preroll_s: float | None = None) -> float | None:
        """Attach a new file; it begins with the buffered GOP (the last keyframe before now).
        Stream copy unless `profile` re-encodes video (then on a thread of its own).
        Returns the wall time the file starts at, when known already. The pre-roll is
        written by the reader thread before its next packet, not here: the call returns at
        once however long the pre-roll, which matters when a group starts many sources.
        With `next_file`, the recording rolls over to a new file every `segment_s`.
        `audio_muted` starts it muted (a Device Connect recorder whose track is muted): set
        under the same lock that registers the file, so not one audio packet gets in.
        `preroll_s` overrides the pre-roll setting for this file (a motion record's
        pre-capture), within what the buffer keeps (`keep_preroll`)."""
        recording = self._new_recording(record_id, path, profile)
        with self._lock:
            if record_id in self._recordings:
                raise ValueError(f"record {record_id} is already recording")
            begin = self.preroll.begin_at(preroll_s)
            self._recordings[record_id] = recording
            if preroll_s is not None:
                self._preroll_from[record_id] = preroll_s
            if audio_muted:
                self._muted.add(record_id)
            if next_file is not None:
                self._next_file[record_id], self._profiles[record_id] = next_file, profile
            if self._input is not None:
                self._pending[record_id] = (self._session, time.time())
                self._input.wake()  # what arrived before now goes into the pre-roll at once
            else:
                self._wakeup.set()  # waiting to reconnect: try now
        return begin

    def stop_recording(self, record_id: str) -> RecordingResult | None:
        """Close the file and return what it amounts to. For a record id that just rolled
        over (the core has not heard of its successor yet) the successor is stopped too and
        its result kept for the core (`stop_recording(new id)` returns it); the answer is
        the old file's result, once that file is final."""
        stashed = self._rollovers.take_stashed(record_id)
        if stashed is not None:
            return stashed
        self._catch_up()
        with self._lock:
            live = self._rollovers.live_id(record_id)
            handover = self._rollovers.pending(record_id) if live != record_id else None
            self._write_pending(live)
            recording = self._recordings.pop(live, None) or self._failed.pop(live, None)
            for marks in (self._paused, self._resuming, self._muted):
                marks.discard(live)
            for plans in (self._splices, self._next_file, self._profiles, self._preroll_from):
                plans.pop(live, None)
        result = recording.close(sync=self.sync_on_close) if recording is not None else None
        if handover is None:
            return result
        if result is not None:
            self._rollovers.stash(live, result)
        handover.done.wait()
        return handover.result

    def pause_recording(self, record_id: str) -> None:
        """Stop writing this file until `resume_recording`; the file stays open."""
        self._catch_up()
        with self._lock:
            record_id = self._rollovers.live_id(record_id)
            self._require(record_id)
            self._write_pending(record_id)
            self._paused.add(record_id)

    def resume_recording(self, record_id: str) -> None:
        """Writing goes on from the next keyframe, placed right after what the file holds."""
        self._catch_up()
        with self._lock:
            record_id = self._rollovers.live_id(record_id)
            self._require(record_id)
            if record_id in self._paused:
                self._paused.discard(record_id)
                self._resuming.add(record_id)

    def set_audio_muted(self, record_id: str, muted: bool) -> None:
        self._catch_up()
        with self._lock:
            record_id = self._rollovers.live_id(record_id)
            self._require(record_id)
            (self._muted.add if muted else self._muted.discard)(record_id)

    def recording_state(self, record_id: str) -> dict:
        with self._lock:
            record_id = self._rollovers.live_id(record_id)
            # Resumed and waiting for its keyframe counts as recording: it was asked to go on,
            # and writes from the next keyframe (`_resuming`) without being asked again.
            return {"paused": record_id in self._paused, "muted": record_id in self._muted}

    def _catch_up(self) -> None:
        """Before a file stops, pauses, resumes or mutes: let the reader take in what the
        camera sent until now, so that the change applies from now on. The station's RTSP
        reader holds up to a batch of it (`recorder.rtsp_input`; with nobody watching a
        batch is long). Waits a few milliseconds, at most `CATCH_UP_S`. Not when the caller
        holds the worker's lock (several changes meant to apply after the same packet)."""
        source = self._input
        if not isinstance(source, RtspInput) or threading.current_thread() is self \
                or self._lock._is_owned():  # the reader could not run: changes made together
            return
        done = threading.Event()
        source.catch_up(done)
        done.wait(CATCH_UP_S)

    def _wake_input(self) -> None:
        source = self._input
        if source is not None:
            source.wake()

    def _live(self) -> bool:
        """Does anyone need this source's packets as they come (a viewer of its pictures, a
        live forward), or only the files and the pre-roll?"""
        return bool(self._forwards) or self.slot.demand is not Demand.NONE

    def _require(self, record_id: str) -> None:
        if record_id not in self._recordings:
            raise KeyError(record_id)

    @property
    def input(self) -> PacketInput | None:
        return self._input

    def recording_ids(self) -> list[str]:
        with self._lock:
            return list(self._recordings) + list(self._failed)

    def open_paths(self) -> list[Path]:
        """The files being written now (for the manager's periodic fsync)."""
        with self._lock:
            return [r.path for r in self._recordings.values() if r.started]

    def counters(self) -> SourceCounters:
        """The monitoring view: totals and rates, and the files open now."""
        with self._lock:
            open_ids = self._recordings.keys()
            recordings = len(open_ids)
            paused = len((self._paused | self._resuming) & open_ids)
        return SourceCounters(self.spec.name, self.status, self.fps, self.bitrate_bps,
                              self.bytes_read, self.reconnects, self.packets_written,
                              self.bytes_written, recordings, paused, self.packets_read,
                              self.last_packet_wall)

    def wait_rollovers(self, timeout: float | None = None) -> bool:
        """Wait until every rollover so far has been reported to the core."""
        return self._rollovers.wait_idle(timeout)

    def start_forward(self, forward_id: str, url: str) -> LiveForward:
        """Push this source live to an RTMP URL (copy-muxed FLV) until `stop_forward`."""
        forward = LiveForward(url, name=f"forward-{self.spec.id}-{forward_id[:8]}",
                              policy=self.spec.policy() if self.spec.policy is not None else None)
        with self._lock:
            old = self._forwards.pop(forward_id, None)
            self._forwards[forward_id] = forward
            for packet, wall in self.preroll.newest_group():  # start at once
                if self._input is not None:
                    forward.write(packet, wall, self._session, self._input)
        self._wake_input()  # live from now on: short batches
        if old is not None:
            old.close()
        return forward

    def stop_forward(self, forward_id: str) -> None:
        with self._lock:
            forward = self._forwards.pop(forward_id, None)
        if forward is not None:
            forward.close()

    def keep_preroll(self, seconds: float) -> None:
        """Buffer at least this many seconds too, for starts that ask for more pre-roll."""
        with self._lock:
            self.preroll.keep_at_least(seconds)

    def set_preroll(self, seconds: float, max_bytes: int) -> None:
        """Change the pre-roll; it grows or shrinks from the next keyframe on."""
        self.preroll.set_limits(seconds, max_bytes)

    def set_reconnect_max_s(self, seconds: float) -> None:
        """The longest wait between attempts to reach the camera, from the next wait on (a
        wait under way ends as planned); a float written whole, read by the reader threads."""
        self._backoff.cap = self._preview_backoff.cap = float(seconds)

    def snapshot(self) -> np.ndarray | None:
        """The newest picture: the decoded slot if fresh, else the GOP's keyframe decoded now."""
        frame = self.slot.latest()
        if frame is not None and frame.shrunk and self.slot.demand is Demand.ALL:
            frame = self._full_size_frame(frame)  # a focused tile: its next picture, full size
        if frame is not None and not frame.shrunk and time.time() - frame.wall_time < 3.0:
            return frame.rgb  # (a picture made small for the wall's tiles is not handed out)
        with self._lock:
            key = self.preroll.newest_keyframe()
            source = self._input
            data = bytes(key) if key is not None else None
        if data is None or source is None:
            return frame.rgb if frame is not None else None
        ctx = source.video.codec_context
        rgb = decode_keyframe(data, ctx.codec.canonical_name, ctx.extradata)
        if rgb is not None:
            self.slot.put(rgb)
        return rgb

    def _full_size_frame(self, shrunk: Frame) -> Frame:
        """While a tile decodes every picture at its own small size, ask for the next one
        as it comes (a viewer without a box): one frame interval away, fresher than the GOP's
        keyframe. `shrunk` back if none comes in time (the caller decodes the keyframe)."""
        token = self.slot.watch(Demand.ALL)
        try:
            deadline, frame = time.monotonic() + FULL_SIZE_WAIT_S, shrunk
            while frame.shrunk and (left := deadline - time.monotonic()) > 0:
                frame = self.slot.wait_newer(frame.seq, left) or frame
            return frame
        finally:
            self.slot.unwatch(token)

    # --- the reader thread ---------------------------------------------------------
    def _set_status(self, status: str, error: str | None = None) -> None:
        picture = self.spec.picture
        error = redact(error, (self.spec.uri, picture and picture.uri, self.spec.uri_preview))
        if status != "online":
            self.fps, self.bitrate_bps = 0.0, 0.0
            self._fps_window = (time.monotonic(), 0, self.bytes_read)
        if (status, error) != (self.status, self.error):
            self.status, self.error = status, error
            self._on_status(self.spec.id, status, error)

    def run(self) -> None:
        self.decoder.start()
        with self._lock:
            if self.preview is not None:
                self.preview.start()
        backoff = self._backoff
        try:
            while not self._stopping.is_set():
                self._wakeup.clear()
                # Retrying twice a second while recording: stay "offline" in between
                # rather than flapping connecting/offline events at that rate.
                if not (self.status == "offline" and self._recordings):
                    self._set_status("connecting", self.error)
                try:
                    self._read_session(backoff)
                    if not self._stopping.is_set():
                        self._set_status("offline", "the stream ended")
                except RefusedInput as exc:
                    self._set_status("error", f"refused: {exc}")
                except InputError as exc:
                    self._set_status("offline", str(exc))
                except (av.FFmpegError, OSError) as exc:
                    self._set_status("offline", f"read failed: {exc}")
                except Exception as exc:  # noqa: BLE001 - a worker must never die silently
                    log.exception("source %s: unexpected error", self.spec.id)
                    self._set_status("error", f"{type(exc).__name__}: {exc}")
                delay = backoff.next_delay()
                if self._recordings:
                    delay = min(delay, RECORDING_RETRY_S)
                self.retry_at = time.time() + delay
                self._wakeup.wait(delay)
                self.retry_at = None
        finally:
            self.decoder.stop()
            with self._lock:
                preview = self.preview
            if preview is not None:
                preview.stop()
            with self._lock:
                forwards, self._forwards = list(self._forwards.values()), {}
            for forward in forwards:
                forward.close()
            self._close_input()
            self._set_status("offline", self.error)

    def _read_session(self, backoff: Backoff) -> None:
        source = self._open()
        if isinstance(source, RtspInput):
            source.live = self._live
        with self._lock:
            self._input, self._session = source, object()
            self.preroll.clear()
        ctx = source.video.codec_context
        codec_name = ctx.codec.canonical_name
        extradata = ctx.extradata
        online = False
        for packet, wall in source.packets(self._stopping):
            if not online:
                online = True
                backoff.reset()
                if self._came_online:
                    self.reconnects += 1
                self._came_online = True
                self._set_status("online", None)
            is_video = packet.stream is source.video
            self.bytes_read += packet.size
            self.packets_read += 1
            self.last_packet_wall = wall
            with self._lock:
                if self._pending:
                    self._write_pending(before=wall)
                if is_video:
                    self.preroll.remember(packet, wall)
                    if self._next_file and self.segment_s > 0 and packet.is_keyframe:
                        self._roll_due(packet, wall)
                for record_id, recording in list(self._recordings.items()):
                    if record_id not in self._pending:
                        self._write(recording, record_id, packet, wall, source)
                for forward in self._forwards.values():
                    forward.write(packet, wall, self._session, source)
            if is_video:
                self.decoder.offer(packet, codec_name, extradata, wall, source.latency,
                                   self._newest_group)
                self._count_frame()
        self._close_input()

    def _newest_group(self, follow: bool) -> list[tuple[bytes, float]]:
        """What the pre-roll holds for a new viewer (Decoder.offer): the newest keyframe and,
        with `follow`, the packets after it. The packet being offered is the group's last one
        and is offered itself, so it is left out."""
        with self._lock:
            group = self.preroll.newest_group()[:-1]
            return [(bytes(packet), wall) for packet, wall in (group if follow else group[:1])]

    def _open(self) -> PacketInput:
        """Open the input; a failure says only what `public_reason` allows (the details go
        to the log at debug level, without secrets)."""
        try:
            return self.spec.open()
        except RefusedInput:
            raise
        except (InputError, av.FFmpegError, OSError) as exc:
            detail = redact(str(exc), (self.spec.uri, self.spec.picture and self.spec.picture.uri))
            # the operator's log has the reason (once per change, not on every retry)
            log.log(logging.INFO if detail != self._open_detail else logging.DEBUG,
                    "source %s: cannot open: %s", self.spec.id, detail)
            self._open_detail = detail
            raise InputError(public_reason(exc)) from None

    def _count_frame(self) -> None:
        since, frames, bytes_then = self._fps_window
        frames += 1
        now = time.monotonic()
        if now - since >= 2.0:
            self.fps = frames / (now - since)
            self.bitrate_bps = (self.bytes_read - bytes_then) * 8 / (now - since)
            self._fps_window = (now, 0, self.bytes_read)
        else:
            self._fps_window = (since, frames, bytes_then)

    def _write(self, recording: Recording, record_id: str, packet: av.Packet, wall: float,
               source: PacketInput) -> None:
        session = self._session
        if self._paused or self._resuming or self._muted or self._splices:
            is_video = packet.stream is source.video
            if record_id in self._paused:
                return
            if record_id in self._resuming:
                if not (is_video and packet.is_keyframe):
                    return
                self._resuming.discard(record_id)
                self._splices[record_id] = Splice(self._session)
            if record_id in self._muted and not is_video:
                return
            splice = self._splices.get(record_id)
            if splice is not None:
                if splice.base is self._session:
                    session = splice
                else:  # reconnected since: the wall clock places it again
                    del self._splices[record_id]
        try:
            recording.write(packet, wall, session, source)
        except (av.FFmpegError, OSError) as exc:
            recording.error = f"writing failed: {exc}"
            self._fail(record_id, recording.error)
            return
        if recording.started:  # a file opens at a keyframe: what comes before is not in it
            self.packets_written += 1
            self.bytes_written += packet.size

    def _roll_due(self, keyframe: av.Packet, wall: float) -> None:
        """Before `keyframe` is written: cut every file it would put at or past `segment_s`
        (lock held). A paused file is cut after it resumed; one whose pre-roll is not
        written yet, after that."""
        for record_id, recording in list(self._recordings.items()):
            if (record_id not in self._next_file or record_id in self._pending
                    or record_id in self._paused or record_id in self._resuming
                    or not recording.started):
                continue
            splice = self._splices.get(record_id)
            session = splice if splice is not None and splice.base is self._session \
                else self._session
            # a tick of slack: float camera time must not push a keyframe at exactly
            # `segment_s` to the next group
            if recording.file_time(keyframe, wall, session) >= self.segment_s - 1 / TICKS:
                self._roll(record_id, recording, wall)

    def _roll(self, old_id: str, old: Recording, wall: float) -> None:
        """Swap the file: the keyframe in hand and everything after it go to a new record's
        file, which takes over the old one's plan and mute state; the old file is finalized
        and reported on another thread (lock held)."""
        next_file = self._next_file.pop(old_id)
        profile = self._profiles.pop(old_id)
        try:
            new_id, new_path = next_file()
            new = self._new_recording(new_id, Path(new_path), profile)
        except Exception:  # noqa: BLE001 - the recording goes on in its file, unrotated
            log.exception("source %s record %s: no next file; rotation stops for it",
                          self.spec.id, old_id)
            return
        del self._recordings[old_id]
        self._recordings[new_id] = new
        self._next_file[new_id], self._profiles[new_id] = next_file, profile
        self._splices.pop(old_id, None)  # the new file starts its own timeline
        if old_id in self._muted:
            self._muted.discard(old_id)
            self._muted.add(new_id)
        log.info("source %s: record %s rolls over to %s", self.spec.id, old_id, new_id)
        self._rollovers.submit(old_id, old, new_id, Path(new_path), wall, self.sync_on_close)

    def _fail(self, record_id: str, message: str) -> None:
        """The disk is full or gone (or an encoder broke): set this file aside to be closed
        cleanly and tell the core; the source, its other recordings and the live view carry
        on. Called on the reader thread (holding the lock) or on an encoder's thread."""
        with self._lock:
            recording = self._recordings.pop(record_id, None)
            if recording is None:
                return
            self._failed[record_id] = recording
        log.error("source %s record %s: %s", self.spec.id, record_id, message)
        if self._rollovers.defer_failure(record_id, message):
            return  # the core hears of this record from `on_rollover` first
        threading.Thread(target=self._on_failure, args=(record_id, message),
                         name=f"fail-{record_id[:8]}", daemon=True).start()

    def _write_pending(self, only: str | None = None, before: float | None = None) -> None:
        """Write the pre-roll of recordings started before `before` (the wall time of the
        packet in hand; None: all of them): the buffered groups as they stood at Start,
        from a keyframe on (lock held)."""
        for record_id in [only] if only is not None else list(self._pending):
            session, started = self._pending.get(record_id, (None, 0.0))
            if before is not None and started >= before:
                continue
            self._pending.pop(record_id, None)
            start = self.preroll.start_index(self._preroll_from.pop(record_id, None))
            recording = self._recordings.get(record_id)
            if recording is None or session is not self._session or self._input is None:
                continue
            for packet, wall in self.preroll.packets[start:]:
                if record_id not in self._recordings:
                    break  # writing failed: the file is set aside
                self._write(recording, record_id, packet, wall, self._input)

    def _close_input(self) -> None:
        with self._lock:
            self._write_pending()
            source, self._input = self._input, None
            self.preroll.clear()
        if source is not None:
            try:
                source.close()
            except (av.FFmpegError, OSError, ValueError):
                pass
