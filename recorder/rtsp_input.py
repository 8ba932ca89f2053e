"""An RTSP camera read by the station itself: interleaved RTP over the RTSP connection,
read in batches, handed on as `av.Packet`s exactly like FFmpeg's demuxer would.

The batch is the point (see `recorder.rtsp_protocol` for the why): the reader sleeps
`BATCH_S`, then takes everything the kernel buffered in one recv and cuts it into RTP
packets with no further system call. A camera costs a few wake-ups a second instead of one
per TCP segment and three reads per RTP packet. Nothing is lost by waiting: TCP keeps the
bytes, and each packet's arrival time is worked back from its RTP timestamp. A recording
started meanwhile calls `wake()`, so what the camera sent before Start is read at once.

A batch costs more than its packets: the thread wakes with cold caches, and that cost is
paid per batch whatever it holds (measured with 16 readers of a 4 Mbit/s camera in one
process: 0.30 % of a core per camera at 0.1 s batches, 0.18 % at 0.5 s; about 150 us a
batch, more than the packets of a 0.1 s batch cost with warm caches). So while nobody
looks at the camera's pictures or forwards it live (`live`, asked before each wait; a
recording server's usual state) batches are `IDLE_BATCH_S` long; a new viewer wakes the
reader at once (`SourceWorker`). What a longer batch would hold back from a file when it
stops or pauses is taken in first: `catch_up` reads what has arrived and says when it has
been handed over. The last packets before the camera pauses or drops are dated by the batch
before them (`_convert`), not up to a whole batch late.

The first keyframe (and the first audio frame) are probed by FFmpeg from memory to get the
stream templates recordings copy their parameters from. Whatever this reader does not
handle (codecs, B-frames, UDP, TLS) raises `Unsupported` and FFmpeg reads that camera.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import threading
import time
from typing import Callable, Iterator

import av

from recorder.inputs import (READ_TIMEOUT_S, ContainerInput, InputError, PacketInput,
                             RefusedInput, network_target)
from recorder.outgoing import OutgoingPolicy, RefusedAddress
from recorder.redact import redact
from recorder.rtp_depay import START, Unit, depacketizer, rtp_delta
from recorder.rtsp_protocol import (MAX_HEADER, Media, RtspConnection, RtspError, Unsupported,
                                    message_end, parse_sdp)

log = logging.getLogger(__name__)

BATCH_S = 0.1           # how long the reader lets data gather between reads: someone watches
IDLE_BATCH_S = 0.5      # ... nobody watches nor forwards live (measured: a third less CPU)
KEYFRAME_WAIT_S = 20.0  # the longest GOP a camera may have before it counts as broken
PROBE_FRAMES = 8        # video frames looked at (from the keyframe on) before reading starts
PROBE_FORMATS = {"H264": "h264", "H265": "hevc", "MPEG4-GENERIC": "aac", "PCMA": "alaw",
                 "PCMU": "mulaw"}
_use_ffmpeg: set[str] = set()  # cameras found unsupported once: FFmpeg from then on
_FRAME = struct.Struct(">BBH")  # RFC 2326 10.12: "$", channel, length of the RTP packet


def open_rtsp(url: str, transport: str, policy: OutgoingPolicy | None = None) -> PacketInput:
    """The station's own reader for TCP cameras it understands, FFmpeg's otherwise
    (`RS_RTSP_READER=ffmpeg` makes FFmpeg read every camera). Both connect only where
    `policy` allows (None: loopback and private networks): the station's client through
    `policy.create_connection`, FFmpeg to the address `network_target` checked."""
    if (transport == "tcp" and url not in _use_ffmpeg and url.lower().startswith("rtsp://")
            and os.environ.get("RS_RTSP_READER", "station").lower() != "ffmpeg"):
        try:
            return RtspInput(url, policy=policy)
        except Unsupported as exc:
            log.info("camera %s: %s; FFmpeg reads it", redact(url), exc)
            _use_ffmpeg.add(url)
    target, options = network_target(url, policy)
    return ContainerInput(target, options={**options, "rtsp_transport": transport}, network=True)


class _Track:
    """One SETUP stream: its depacketizer, its clock and, once probed, its template."""

    def __init__(self, media: Media, channel: int):
        self.media = media
        self.channel = channel
        self.depay = depacketizer(media)
        self.time_base = av.AVRational(1, media.clock_rate)  # set on every packet: no Fraction
        self.rate = media.clock_rate
        self.base: int | None = None      # RTP time of position 0 (RTP-Info, else first packet)
        self.last: int | None = None
        self.unwrapped = 0
        self.stream = None
        self.units: list[Unit] = []
        self.anchor: float | None = None  # wall time of position 0 by the last batch's dating

    def position(self, ts: int) -> int:
        """RTP time since `base`, unwrapped past 2**32."""
        if self.last is None:
            self.base = ts if self.base is None else self.base
            self.unwrapped = rtp_delta(self.base, ts)
        else:
            self.unwrapped += rtp_delta(self.last, ts)
        self.last = ts
        return self.unwrapped


class RtspInput(PacketInput):
    reader = "station"
    latency = BATCH_S

    def __init__(self, url: str, timeout: float = READ_TIMEOUT_S,
                 policy: OutgoingPolicy | None = None):
        self.url = url
        try:
            self.conn = RtspConnection(url, timeout, connect=(policy or OutgoingPolicy()).create_connection)
        except RefusedAddress as exc:
            raise RefusedInput(str(exc)) from None
        except OSError as exc:
            raise InputError(f"cannot connect: {exc}") from exc
        # A lock as a binary semaphore rather than an Event: waiting on it is one C call, where
        # Event.wait runs a Condition's Python code (a new lock, a deque) at every batch.
        self._wake = threading.Lock()
        self._wake.acquire()  # held: `wake` releases it
        self.live: Callable[[], bool] = lambda: True  # short batches? (the worker's answer)
        # how long the next batch gathers (asked before each wait): a reader with more than
        # two states (a preview stream read only for motion analysis) replaces it
        self.batch_s: Callable[[], float] = lambda: BATCH_S if self.live() else IDLE_BATCH_S
        self._catch_ups: list[threading.Event] = []  # set once the next read is handed over
        self._catch_lock = threading.Lock()
        self._probes: list[av.container.InputContainer] = []
        self._pending: list[tuple[_Track, Unit]] = []  # read while probing, not yet yielded
        self._last_data = time.monotonic()
        self._read_at = time.time()  # wall time of the last read that returned data
        self._read_began = self._arrived_after = self._read_at  # see `_read`, `_convert`
        self._keepalive_at = 0.0
        self._video_pts = -1
        self._chunk = memoryview(bytearray(1 << 18))  # the reads land here, again and again
        self._held = 0  # bytes at the start of `_chunk` that wait for more: a packet cut in two
        try:
            self._start()
            self._probe()
        except (RtspError, OSError) as exc:
            self.close()
            raise InputError(str(exc)) from exc
        except BaseException:
            self.close()
            raise

    # --- the conversation --------------------------------------------------------------
    def _start(self) -> None:
        conn = self.conn
        public = conn.request("OPTIONS", conn.url).headers.get("public", "")
        self._keepalive = "GET_PARAMETER" if "GET_PARAMETER" in public.upper() else "OPTIONS"
        described = conn.request("DESCRIBE", conn.url, {"Accept": "application/sdp"})
        base = described.headers.get("content-base") or described.headers.get(
            "content-location") or conn.url
        medias = parse_sdp(described.body.decode("utf-8", "replace"))
        video = next((m for m in medias if m.kind == "video"), None)
        if video is None:
            raise InputError("the camera describes no video")
        audio = next((m for m in medias if m.kind == "audio"), None)
        self.tracks: dict[int, _Track] = {}
        for media in [m for m in (video, audio) if m is not None]:
            channel = 2 * len(self.tracks)
            track = _Track(media, channel)
            url = conn.control_url(base, media.control)
            reply = conn.request("SETUP", url, {
                "Transport": f"RTP/AVP/TCP;unicast;interleaved={channel}-{channel + 1}"})
            transport = reply.headers.get("transport", "")
            if "interleaved=" in transport:
                value = transport.split("interleaved=", 1)[1].split(";")[0].split("-")[0]
                track.channel = int(value) if value.isdigit() else channel
            elif "TCP" not in transport.upper():
                raise Unsupported("the camera does not offer RTP over TCP")
            track.control = url
            self.tracks[track.channel] = track
        self._by_channel: list[_Track | None] = [self.tracks.get(c) for c in range(256)]
        self.video = None  # set by _probe
        self.audio = None
        played = conn.request("PLAY", base, {"Range": "npt=0.000-"})  # the aggregate URL
        for item in played.headers.get("rtp-info", "").split(","):
            fields = dict(p.strip().partition("=")[::2] for p in item.split(";"))
            for track in self.tracks.values():
                if fields.get("url") and (fields["url"] == track.control
                                          or track.control.endswith(fields["url"])
                                          or fields["url"].endswith(track.media.control or "\0")):
                    if fields.get("rtptime", "").isdigit():
                        track.base = int(fields["rtptime"])
        self._keepalive_at = time.monotonic() + min(30.0, conn.session_timeout / 2)

    def _probe(self) -> None:
        """Read until the first keyframe and a few frames after it (and the first audio
        frame), then let FFmpeg probe them from memory for the stream templates. The frames
        after the keyframe show whether the camera sends B-frames (timestamps going back):
        this reader passes timestamps on as they come, so those cameras are FFmpeg's."""
        video = next(t for t in self.tracks.values() if t.media.kind == "video")
        audio = next((t for t in self.tracks.values() if t.media.kind == "audio"), None)
        deadline = time.monotonic() + KEYFRAME_WAIT_S
        keyframe: Unit | None = None
        after_key: list[int] = []  # RTP times of the video from the keyframe on
        audio_unit: Unit | None = None
        settle_until = None
        while True:
            for track, unit in self._read(block=True):
                self._pending.append((track, unit))
                if track is video and (keyframe is not None or unit[2]):
                    keyframe = keyframe or unit
                    after_key.append(unit[0])
                    settle_until = settle_until or time.monotonic() + 2.0
                elif track is audio and audio_unit is None:
                    audio_unit = unit
            now = time.monotonic()
            if keyframe is None:
                if now > deadline:
                    raise InputError(f"no keyframe from the camera within {KEYFRAME_WAIT_S:.0f} s")
                continue
            if (len(after_key) >= PROBE_FRAMES and (audio is None or audio_unit is not None)) \
                    or now > settle_until:
                break
        if any(rtp_delta(a, b) < 0 for a, b in zip(after_key, after_key[1:])):
            raise Unsupported("the camera sends B-frames")
        if audio is not None and audio_unit is None:
            log.warning("camera %s describes audio but sends none; recording video only",
                        self.conn.url)
        params = b"".join(START + p for p in video.depay.parameter_sets())
        self.video = video.stream = self._template(video.media, params + keyframe[1]).streams.video[0]
        if audio is not None and audio_unit is not None:
            self.audio = audio.stream = self._template(audio.media, audio_unit[1]).streams.audio[0]
        # the first packets are those from the keyframe on
        first = next(i for i, (t, u) in enumerate(self._pending) if u is keyframe)
        self._pending = [(t, u) for i, (t, u) in enumerate(self._pending)
                         if i >= first and t.stream is not None]
        self.conn.sock.settimeout(0)  # from here on a recv never waits (see `_read`)

    def _template(self, media: Media, data: bytes) -> av.container.InputContainer:
        options = {}
        if media.encoding in ("PCMA", "PCMU"):
            options = {"sample_rate": str(media.clock_rate),
                       "ch_layout": "stereo" if media.channels == 2 else "mono"}
        try:
            container = av.open(io.BytesIO(data), format=PROBE_FORMATS[media.encoding],
                                options=options)
        except av.FFmpegError as exc:
            raise Unsupported(f"FFmpeg cannot probe the camera's {media.encoding}: {exc}") from exc
        self._probes.append(container)
        return container

    # --- reading ---------------------------------------------------------------------------
    def wake(self) -> None:
        """Read what has arrived now rather than at the end of the current batch."""
        try:
            self._wake.release()
        except RuntimeError:
            pass  # woken already

    def catch_up(self, done: threading.Event) -> None:
        """Read what has arrived by now at once; `done` is set when every packet of that
        read has been handed over and the consumer has asked for the next one (so it has
        written them), or when reading ends."""
        with self._catch_lock:
            self._catch_ups.append(done)
        self.wake()

    def packets(self, stop: threading.Event) -> Iterator[tuple[av.Packet, float]]:
        served: list[threading.Event] = []
        try:
            now = time.time()
            pending, self._pending = self._pending, []
            yield from self._convert(pending, now, now)
            while not stop.is_set():
                self._wake.acquire(timeout=self.batch_s())
                if self._catch_ups:
                    with self._catch_lock:
                        served, self._catch_ups = self._catch_ups, []
                if stop.is_set():
                    return
                units = self._read(block=False)
                if units is None:
                    return  # the camera closed the connection
                yield from self._convert(units, self._read_at, self._arrived_after)
                for done in served:
                    done.set()
                served = []
                self._keep_alive()
        except Unsupported as exc:  # found out only now: FFmpeg takes over on the reconnect
            _use_ffmpeg.add(self.url)
            raise InputError(f"{exc}; reading the camera through FFmpeg from now on") from exc
        finally:
            with self._catch_lock:
                served, self._catch_ups = served + self._catch_ups, []
            for done in served:  # nothing more will be read: nobody waits for it
                done.set()

    def _convert(self, units: list[tuple[_Track, Unit]], now: float,
                 arrived_after: float) -> Iterator[tuple[av.Packet, float]]:
        """The units as packets, each with the wall time it arrived: worked back from the
        newest unit of its track, taken to have arrived `now` (the read), by the camera's
        clock. That is right while the camera sends steadily. When it has paused or stopped,
        the newest unit came earlier, at any time since `arrived_after` (the read before):
        a batch dated more than `BATCH_S` later than the one before by the camera's clock
        is dated as that one was instead (a long batch would otherwise date the last
        packets before a drop up to a batch late)."""
        newest: dict[int, int] = {}
        positions = []
        for track, (ts, data, key) in units:
            position = track.position(ts)
            newest[track.channel] = max(newest.get(track.channel, position), position)
            positions.append(position)
        late: dict[int, float] = {}  # by how much to date each track's units earlier
        for channel, top in newest.items():
            track = self.tracks[channel]
            anchor = now - top / track.rate
            previous, track.anchor = track.anchor, anchor
            if previous is not None and anchor - previous > BATCH_S:
                late[channel] = min(anchor - previous, now - arrived_after)
        for (track, (ts, data, key)), position in zip(units, positions):
            if track.stream is None:
                continue
            if track.stream is self.video:
                if position < self._video_pts:
                    raise Unsupported("the camera sends B-frames")
                self._video_pts = position
            packet = av.Packet(data)
            packet.stream = track.stream
            packet.time_base = track.time_base
            packet.pts = packet.dts = position
            packet.is_keyframe = key
            yield packet, now - (newest[track.channel] - position) / track.rate \
                - late.get(track.channel, 0.0)

    def _read(self, block: bool) -> list[tuple[_Track, Unit]] | None:
        """Everything the socket holds now, cut into units; None once the camera hung up.
        While probing (`block`) the socket waits up to the read timeout for data; after
        that it never waits: a Python socket with a timeout polls before every recv.

        The bytes land in one buffer, read into again and again: cut where they lie (no
        copy of a batch), and what the depacketizers keep of an unfinished unit is copied
        out after each cut (`detach`). A packet cut in two by the read waits at the start
        of the buffer for the rest."""
        conn, view = self.conn, self._chunk
        # what this read finds arrived after the last one began (that one took all there was)
        self._arrived_after, self._read_began = self._read_began, time.time()
        units: list[tuple[_Track, Unit]] = []
        while True:
            held = self._held
            room = len(view) - held
            if conn.buffer:  # media that came in with the answers to the requests
                size = min(room, len(conn.buffer))
                view[held:held + size] = conn.buffer[:size]
                del conn.buffer[:size]
            else:
                try:
                    size = conn.sock.recv_into(view[held:])
                except BlockingIOError:
                    if time.monotonic() - self._last_data > READ_TIMEOUT_S:
                        raise InputError(f"no data from the camera for {READ_TIMEOUT_S:.0f} s") \
                            from None
                    return units
                except TimeoutError:
                    raise InputError(f"no data from the camera for {READ_TIMEOUT_S:.0f} s") \
                        from None
                if size == 0:
                    if block:
                        raise InputError("the camera closed the connection")
                    return None
                # when the newest packet had arrived, at the latest: taken before the batch
                # is cut, which takes longer (and may be preempted longer) the longer it is
                self._read_at = time.time()
                self._last_data = time.monotonic()
            end = held + size
            got, used = self._cut(view, end)
            units += got
            for track in self.tracks.values():
                track.depay.detach()  # the buffer is read into again
            rest = end - used
            view[:rest] = bytes(view[used:end])
            self._held = rest
            if block or size < room:
                return units

    def _cut(self, view: memoryview, end: int) -> tuple[list[tuple[_Track, Unit]], int]:
        """Cut `view[:end]` into `$`-framed packets for the depacketizers: the units they
        finished, and how far it was used (the rest is an incomplete packet)."""
        units: list[tuple[_Track, Unit]] = []
        by_channel = self._by_channel
        frame = _FRAME.unpack_from
        pos = 0
        while end - pos >= 4:
            magic, channel, length = frame(view, pos)
            if magic != 0x24:  # an RTSP answer (a keep-alive) between the media
                size = message_end(bytes(view[pos:end]))
                if size is None:
                    if end - pos > MAX_HEADER:
                        raise InputError("the camera's stream is out of step (not RTSP)")
                    break
                pos += size
                continue
            stop = pos + 4 + length
            if stop > end:
                break
            track = by_channel[channel]
            if track is not None:
                out = track.units
                track.depay.push(view, pos + 4, stop, out)
                if out:
                    units.extend([(track, unit) for unit in out])
                    out.clear()
            pos = stop
        return units, pos

    def _keep_alive(self) -> None:
        now = time.monotonic()
        if now >= self._keepalive_at:
            self._keepalive_at = now + min(30.0, self.conn.session_timeout / 2)
            try:
                self.conn.send(self._keepalive, self.conn.url)
            except OSError as exc:
                raise InputError(f"keep-alive failed: {exc}") from exc

    def close(self) -> None:
        self.conn.close()
        for container in self._probes:
            container.close()
        self._probes = []


__all__ = ["RtspInput", "open_rtsp"]
