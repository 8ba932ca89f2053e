"""One thread per source: read packets, keep the last keyframe group(s) as pre-roll, copy packets into
every recording of this source, offer video packets to the decoder. Reconnects with capped
exponential backoff and jitter; reports its status through a callback.

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
from recorder.frames import Decoder, FrameSlot, decode_keyframe
from recorder.inputs import InputError, PacketInput, RefusedInput, open_input, public_reason
from recorder.mp4file import Mp4Recording, RecordingResult
from recorder.picture import PictureInput, PictureSpec
from recorder.redact import redact, secrets_of
from recorder.timeline import Splice
from recorder.transcode import TranscodeRecording

log = logging.getLogger(__name__)
StatusCallback = Callable[[int, str, "str | None"], None]
Recording = Mp4Recording | TranscodeRecording
FailureCallback = Callable[[str, str], None]


@dataclass(frozen=True)
class SourceSpec:
    """What the recorder needs to know about a source; nothing about the catalog."""

    id: int
    name: str
    uri: str
    picture: PictureSpec | None = None  # set for an HTTP snapshot camera
    # The core's policy, asked before every connection attempt (its settings may have changed
    # since, a symlink may point elsewhere now): the URI to open, or `RefusedInput`.
    vet: Callable[[str], str] | None = field(default=None, compare=False, repr=False)

    def open(self) -> PacketInput:
        uri = self.vet(self.uri) if self.vet is not None else self.uri
        if self.picture is not None:
            picture = self.picture if uri == self.picture.uri else replace(self.picture, uri=uri)
            return PictureInput(picture)
        return open_input(uri)


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


class SourceWorker(threading.Thread):
    def __init__(self, spec: SourceSpec, *, on_status: StatusCallback, on_failure: FailureCallback,
                 preroll_bytes: int = 16 << 20, preroll_s: float = 0.0):
        super().__init__(name=f"source-{spec.id}", daemon=True)
        self.spec = spec
        self.slot = FrameSlot()
        self.decoder = Decoder(str(spec.id), self.slot)
        self._on_status = on_status
        self._on_failure = on_failure
        self._preroll_bytes = preroll_bytes
        self._preroll_s = preroll_s
        self._stopping = threading.Event()
        self._lock = threading.RLock()  # `_fail` re-enters it from `_write`
        self._recordings: dict[str, Recording] = {}
        self._failed: dict[str, Recording] = {}  # stopped by a write error, not yet closed
        self._forwards: dict[str, LiveForward] = {}
        self._paused: set[str] = set()     # records not written to for now
        self._resuming: set[str] = set()   # records waiting for a keyframe to go on
        self._muted: set[str] = set()      # records whose audio is dropped for now
        self._splices: dict[str, Splice] = {}
        self._gop: list[tuple[av.Packet, float]] = []
        self._gop_bytes = 0
        # Recordings started but not written to yet: record id -> (session, wall time of Start).
        # The reader writes their pre-roll once it has read everything that arrived before
        # Start (an input may hand packets over in batches), then their live packets.
        self._pending: dict[str, tuple[object, float]] = {}
        self._input: PacketInput | None = None
        self._session: object | None = None
        self.status = "connecting"
        self.error: str | None = None
        self.packets_read = 0
        self._open_detail: str | None = None  # why the last attempt failed, for the log
        self.retry_at: float | None = None  # wall time of the next connection attempt
        self.fps = 0.0                      # video packets per second, measured
        self._fps_window = (time.monotonic(), 0)

    # --- control, from any thread --------------------------------------------------
    def stop(self, timeout: float = 3.0) -> None:
        self._stopping.set()
        self.decoder.stop()
        self.join(timeout)

    def start_recording(self, record_id: str, path: Path,
                        profile: EncodeProfile = COPY) -> float | None:
        """Attach a new file; it begins with the buffered GOP (the last keyframe before now).
        Stream copy unless `profile` re-encodes video (then on a thread of its own).
        Returns the wall time the file starts at, when known already. The pre-roll is
        written by the reader thread before its next packet, not here: the call returns at
        once however long the pre-roll, which matters when a group starts many sources."""
        if profile.copies_video:
            recording: Recording = Mp4Recording(path, profile)
        else:
            recording = TranscodeRecording(
                path, profile, on_error=lambda message: self._fail(record_id, message))
        with self._lock:
            if record_id in self._recordings:
                raise ValueError(f"record {record_id} is already recording")
            begin = self._gop[0][1] if self._gop else None
            self._recordings[record_id] = recording
            if self._input is not None:
                self._pending[record_id] = (self._session, time.time())
                self._input.wake()  # what arrived before now goes into the pre-roll at once
        return begin

    def stop_recording(self, record_id: str) -> RecordingResult | None:
        with self._lock:
            self._write_pending(record_id)
            recording = self._recordings.pop(record_id, None) or self._failed.pop(record_id, None)
            for marks in (self._paused, self._resuming, self._muted):
                marks.discard(record_id)
            self._splices.pop(record_id, None)
        return recording.close() if recording is not None else None

    def pause_recording(self, record_id: str) -> None:
        """Stop writing this file until `resume_recording`; the file stays open."""
        with self._lock:
            self._require(record_id)
            self._write_pending(record_id)
            self._paused.add(record_id)

    def resume_recording(self, record_id: str) -> None:
        """Writing goes on from the next keyframe, placed right after what the file holds."""
        with self._lock:
            self._require(record_id)
            if record_id in self._paused:
                self._paused.discard(record_id)
                self._resuming.add(record_id)

    def set_audio_muted(self, record_id: str, muted: bool) -> None:
        with self._lock:
            self._require(record_id)
            (self._muted.add if muted else self._muted.discard)(record_id)

    def recording_state(self, record_id: str) -> dict:
        with self._lock:
            return {"paused": record_id in self._paused or record_id in self._resuming,
                    "muted": record_id in self._muted}

    def _require(self, record_id: str) -> None:
        if record_id not in self._recordings:
            raise KeyError(record_id)

    @property
    def input(self) -> PacketInput | None:
        return self._input

    def recording_ids(self) -> list[str]:
        with self._lock:
            return list(self._recordings) + list(self._failed)

    def start_forward(self, forward_id: str, url: str) -> LiveForward:
        """Push this source live to an RTMP URL (copy-muxed FLV) until `stop_forward`."""
        forward = LiveForward(url, name=f"forward-{self.spec.id}-{forward_id[:8]}")
        with self._lock:
            old = self._forwards.pop(forward_id, None)
            self._forwards[forward_id] = forward
            for packet, wall in self._gop[self._newest_keyframe():]:  # start at once
                if self._input is not None:
                    forward.write(packet, wall, self._session, self._input)
        if old is not None:
            old.close()
        return forward

    def stop_forward(self, forward_id: str) -> None:
        with self._lock:
            forward = self._forwards.pop(forward_id, None)
        if forward is not None:
            forward.close()

    def forward(self, forward_id: str) -> LiveForward | None:
        return self._forwards.get(forward_id)

    def set_preroll(self, seconds: float, max_bytes: int) -> None:
        """Change the pre-roll; it grows or shrinks from the next keyframe on."""
        self._preroll_s, self._preroll_bytes = seconds, max_bytes

    def snapshot(self) -> np.ndarray | None:
        """The newest picture: the decoded slot if fresh, else the GOP's keyframe decoded now."""
        frame = self.slot.latest()
        if frame is not None and time.time() - frame.wall_time < 3.0:
            return frame.rgb
        with self._lock:
            key = self._gop[self._newest_keyframe()][0] if self._gop else None
            source = self._input
            data = bytes(key) if key is not None else None
        if data is None or source is None:
            return frame.rgb if frame is not None else None
        ctx = source.video.codec_context
        rgb = decode_keyframe(data, ctx.codec.canonical_name, ctx.extradata)
        if rgb is not None:
            self.slot.put(rgb)
        return rgb

    # --- the reader thread ---------------------------------------------------------
    def _set_status(self, status: str, error: str | None = None) -> None:
        picture = self.spec.picture
        error = redact(error, secrets_of(self.spec.uri, picture and picture.password,
                                         picture and picture.uri))
        if status != "online":
            self.fps, self._fps_window = 0.0, (time.monotonic(), 0)
        if (status, error) != (self.status, self.error):
            self.status, self.error = status, error
            self._on_status(self.spec.id, status, error)

    def run(self) -> None:
        self.decoder.start()
        backoff = Backoff()
        try:
            while not self._stopping.is_set():
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
                self.retry_at = time.time() + delay
                self._stopping.wait(delay)
                self.retry_at = None
        finally:
            self.decoder.stop()
            with self._lock:
                forwards, self._forwards = list(self._forwards.values()), {}
            for forward in forwards:
                forward.close()
            self._close_input()
            self._set_status("offline", self.error)

    def _read_session(self, backoff: Backoff) -> None:
        source = self._open()
        with self._lock:
            self._input, self._session = source, object()
            self._gop, self._gop_bytes = [], 0
        ctx = source.video.codec_context
        codec_name = ctx.codec.canonical_name
        extradata = ctx.extradata
        online = False
        for packet, wall in source.packets(self._stopping):
            if not online:
                online = True
                backoff.reset()
                self._set_status("online", None)
            self.packets_read += 1
            is_video = packet.stream is source.video
            with self._lock:
                if self._pending:
                    self._write_pending(before=wall)
                if is_video:
                    self._remember(packet, wall)
                for record_id, recording in list(self._recordings.items()):
                    if record_id not in self._pending:
                        self._write(recording, record_id, packet, wall, source)
                for forward in self._forwards.values():
                    forward.write(packet, wall, self._session, source)
            if is_video:
                self.decoder.offer(packet, codec_name, extradata, wall, source.latency)
                self._count_frame()
        self._close_input()

    def _open(self) -> PacketInput:
        """Open the input; a failure says only what `public_reason` allows (the details go
        to the log at debug level, without secrets)."""
        try:
            return self.spec.open()
        except RefusedInput:
            raise
        except (InputError, av.FFmpegError, OSError) as exc:
            secrets = secrets_of(self.spec.uri, self.spec.picture and self.spec.picture.password)
            detail = redact(str(exc), secrets)
            # the operator's log has the reason (once per change, not on every retry)
            log.log(logging.INFO if detail != self._open_detail else logging.DEBUG,
                    "source %s: cannot open: %s", self.spec.id, detail)
            self._open_detail = detail
            raise InputError(public_reason(exc)) from None

    def _count_frame(self) -> None:
        since, frames = self._fps_window
        frames += 1
        now = time.monotonic()
        if now - since >= 2.0:
            self.fps, self._fps_window = frames / (now - since), (now, 0)
        else:
            self._fps_window = (since, frames)

    def _remember(self, packet: av.Packet, wall: float) -> None:
        """Keep the pre-roll: whole keyframe groups reaching at least `preroll_s` back (only
        the current group at 0), bounded by bytes (the oldest group goes first), so a
        recording always starts on a keyframe and the buffer never grows unbounded."""
        if packet.is_keyframe:
            self._drop_groups(self._preroll_cut(wall))
        elif not self._gop:
            return
        while self._gop and self._gop_bytes + packet.size > self._preroll_bytes:
            self._drop_groups(self._next_keyframe(1))
        if not self._gop and not packet.is_keyframe:
            return  # the current group no longer fits: wait for the next keyframe
        self._gop.append((packet, wall))
        self._gop_bytes += packet.size

    def _preroll_cut(self, now: float) -> int:
        """How many buffered packets a keyframe arriving `now` makes unnecessary: those before
        the newest keyframe that is at least `preroll_s` old."""
        if self._preroll_s <= 0:
            return len(self._gop)
        limit, cut = now - self._preroll_s, 0
        for index, (packet, wall) in enumerate(self._gop):
            if wall > limit:
                break
            if packet.is_keyframe:
                cut = index
        return cut

    def _next_keyframe(self, start: int) -> int:
        return next((i for i in range(start, len(self._gop)) if self._gop[i][0].is_keyframe),
                    len(self._gop))

    def _newest_keyframe(self) -> int:
        return next((i for i in range(len(self._gop) - 1, -1, -1) if self._gop[i][0].is_keyframe), 0)

    def _drop_groups(self, count: int) -> None:
        if count:
            self._gop_bytes -= sum(packet.size for packet, _ in self._gop[:count])
            del self._gop[:count]

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
            recording = self._recordings.get(record_id)
            if recording is None or session is not self._session or self._input is None:
                continue
            for packet, wall in self._gop:
                if record_id not in self._recordings:
                    break  # writing failed: the file is set aside
                self._write(recording, record_id, packet, wall, self._input)

    def _close_input(self) -> None:
        with self._lock:
            self._write_pending()
            source, self._input = self._input, None
            self._gop, self._gop_bytes = [], 0
        if source is not None:
            try:
                source.close()
            except (av.FFmpegError, OSError, ValueError):
                pass
