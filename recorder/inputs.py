"""Inputs: everything the station can read, presented as one packet stream.

URI schemes the station understands (stored in a source's `uri_rtsp`):

- `rtsp://`, `rtsps://`  a camera; TCP transport unless the URI ends with `#udp`.
- `rtmp://`, `http(s)://`, `srt://`, `udp://`  any other stream FFmpeg demuxes (MJPEG, HLS, TS ...).
- `file:///path/video.mp4`  a file played in a loop at real time (demos, tests).
- `testsrc://?size=640x360&rate=25&gop=2`  the built-in test pattern with a wall clock.
- `device:///dev/video0`  a local camera (V4L2).
- `screen://:0.0`  screen capture (x11grab).

Every input yields `(av.Packet, wall time it arrived)`; a packet's `.stream` is one of
`video`/`audio`, and those stream objects double as the templates a recording's output
streams are copied from. TCP RTSP cameras are read by the station's own RTSP client
(`recorder.rtsp_input`), anything else by FFmpeg. The test
pattern encodes its frames once with libx264 so that downstream everything is a camera.

Which URIs a client may store is the core's policy (`app.uri_policy`). Here, whatever the
URI, FFmpeg gets a `protocol_whitelist` matching its scheme, so a playlist or a redirect
cannot reach other protocols (`file:` from an HTTP playlist, `concat:`, `pipe:` ...), and a
file is opened as a plain `file:` path by a short list of container demuxers (never as a
playlist that names other files). An input that fails to open says why in `InputError`
(for the operator's "Test connection"); what a reader publishes is `public_reason` of it.

A network input is opened only by the demuxers and decoders of audio and video
(`NETWORK_FORMATS`, `VIDEO_CODECS`, `AUDIO_CODECS`): FFmpeg picks a demuxer by the URL's
suffix and by what answers, and its text demuxers (`tty` for `.nfo`, `.txt` ...) draw any
answer as a picture, so `http://intranet/secret.nfo` or `tcp://host:port/x.nfo` would show a
page or a service's greeting as video. And it connects only where the outgoing policy
(`recorder.outgoing`, the core's `allowed_source_networks`) allows: its host resolved and
checked here, FFmpeg handed the checked address (`pin_url`; an HTTP `Host` header keeps the
name), HTTP never following a redirect (`max_redirects=0`).
"""

from __future__ import annotations

import io
from abc import ABC, abstractmethod
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator
from urllib.parse import parse_qs, urlsplit

import av

from recorder.imaging import burn_text
from recorder.outgoing import OutgoingPolicy, RefusedAddress

READ_TIMEOUT_S = 5.0
STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "srt", "udp", "tcp")
SCHEMES = STREAM_SCHEMES + ("file", "testsrc", "device", "screen")
# FFmpeg protocols an input of each scheme may use, itself and what it nests (TLS, RTP ...).
PROTOCOL_WHITELIST = {
    "http": "http,https,tcp,tls", "https": "http,https,tcp,tls",
    "rtmp": "rtmp,rtmps,tcp,tls", "rtmps": "rtmp,rtmps,tcp,tls",
    "rtsp": "rtsp,rtsps,rtp,srtp,udp,tcp,tls", "rtsps": "rtsp,rtsps,rtp,srtp,udp,tcp,tls",
    "srt": "srt", "udp": "udp", "tcp": "tcp", "file": "file", "device": "file", "screen": "file",
}
# Demuxers a `file://` source may be read by: containers of one video, never a playlist
# (hls, concat, ...) that would open other files.
FILE_FORMATS = ("mov,mp4,m4a,3gp,3g2,mj2,matroska,webm,mpegts,mpeg,avi,flv,asf,ivf,ogg,"
                "h264,hevc,mjpeg")
# Demuxers a network input may be read by: streams and containers of audio and video. Never a
# playlist or manifest that opens further URLs nobody checked (hls, dash, concat, sdp), an
# image sequence, a subtitle or a text demuxer that renders what it reads (tty, bintext ...).
NETWORK_FORMATS = ("rtsp,mpegts,flv,live_flv,mjpeg,mpjpeg,h264,hevc,matroska,webm,"
                   "mov,mp4,m4a,3gp,3g2,mj2,mpeg,asf,avi,ogg,ivf")
# Codecs a network input's streams may have (FFmpeg's codec names); another video codec
# refuses the input, another audio codec leaves the input without audio.
VIDEO_CODECS = frozenset("h264 hevc mjpeg mpeg4 mpeg2video mpeg1video h263 vp8 vp9 av1".split())
AUDIO_CODECS = frozenset("""aac mp3 mp2 opus vorbis ac3 eac3 flac speex pcm_mulaw pcm_alaw
    pcm_s16le pcm_s16be pcm_u8 adpcm_g726 adpcm_g726le adpcm_g722""".split())
# The same as FFmpeg decoder names, for its `codec_whitelist` (what probing may decode).
NETWORK_DECODERS = ",".join(sorted(VIDEO_CODECS | AUDIO_CODECS | {
    "libdav1d", "aac_fixed", "mp3float", "mp2float", "libopus", "ac3_fixed", "g726", "g726le",
    "g722"}))
UNREACHABLE = "cannot open the input (unreachable, refused or not a video stream)"
AUTH_FAILED = "authentication failed"


class InputError(Exception):
    """The URI cannot be opened or has no video."""


class RefusedInput(InputError):
    """The station's policy forbids opening this URI (see `app.uri_policy`); nothing was
    opened, so the message is the same whether or not the target exists."""


def public_reason(exc: BaseException) -> str:
    """What may be shown to anyone about an input that failed to open: a refusal says why,
    a rejected login says so; everything else (no such file, permission denied, connection
    refused, timed out, not a stream, no video) is one message, so that the station is no
    oracle for which files exist or which ports are open."""
    if isinstance(exc, RefusedInput):
        return str(exc)
    cause = exc.__cause__ if isinstance(exc, InputError) and exc.__cause__ is not None else exc
    if isinstance(cause, av.error.HTTPUnauthorizedError):
        return AUTH_FAILED
    # FFmpeg's own words without the URL it quotes (a file could be named "auth failed")
    text = str(cause.strerror if isinstance(cause, av.FFmpegError) else cause).lower()
    if (AUTH_FAILED in text or "401 unauthorized" in text or "authorization failed" in text
            or "asks for a user name and password" in text):
        return AUTH_FAILED
    return UNREACHABLE


def file_path(uri: str) -> str:
    """The path a `file://` URI names, as the station opens it."""
    return urlsplit(uri).path


def validate_uri(uri: str) -> str | None:
    """Return a message when `uri` is not something the station can read, else None."""
    try:
        parts = urlsplit(uri)
        if parts.scheme.lower() in STREAM_SCHEMES:
            parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        return f"not a valid URI: {exc}"
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        return f"unsupported URI scheme {scheme or '(none)'!r}; use one of {', '.join(SCHEMES)}"
    if scheme == "testsrc":
        try:
            TestPatternConfig.from_uri(uri)
        except ValueError as exc:
            return str(exc)
    elif scheme != "screen" and not parts.netloc and not parts.path:
        return "the URI has no address"
    return None


class PacketInput(ABC):
    """An open input; `packets()` ends when the input ends or `stop` is set."""

    video: av.video.stream.VideoStream
    audio: av.audio.stream.AudioStream | None = None
    reader = "ffmpeg"  # who turns the source into packets: "ffmpeg" or "station"
    latency = 0.0      # how late, at most, packets are handed over after they arrived

    @abstractmethod
    def packets(self, stop: threading.Event) -> Iterator[tuple[av.Packet, float]]:
        """Yield the input's packets at real time, each with the wall time it arrived."""

    def wake(self) -> None:
        """Hand over what has arrived at once (an input that reads in batches)."""

    @abstractmethod
    def close(self) -> None:
        """Release the input."""


def _sleep_until(deadline: float, stop: threading.Event) -> None:
    delay = deadline - time.monotonic()
    if delay > 0:
        stop.wait(delay)


class ContainerInput(PacketInput):
    """Anything FFmpeg demuxes; `loop` replays a file at real time forever."""

    def __init__(self, url: str, *, fmt: str | None = None, options: dict[str, str] | None = None,
                 loop: bool = False, network: bool = False, protocols: str | None = None,
                 formats: str | None = None, scheme: str | None = None):
        # Network inputs time out through FFmpeg's own socket options, not PyAV's `timeout`:
        # that one polls a Python callback ~1500 times a second per stream (measured), a
        # large part of what reading a camera costs.
        options = dict(options or {})
        # the protocols of the URL's own scheme (a path or a device: "file"), also for
        # everything the input opens itself (playlist entries, redirects)
        scheme = scheme or urlsplit(url).scheme.lower()
        options["protocol_whitelist"] = protocols or PROTOCOL_WHITELIST.get(scheme, "file")
        if formats:
            options["format_whitelist"] = formats
        if network:
            micros = str(int(READ_TIMEOUT_S * 1_000_000))
            options.setdefault("rw_timeout", micros)
            if scheme in ("rtsp", "rtsps", "http", "https", "tcp"):
                options.setdefault("timeout", micros)
            options.setdefault("format_whitelist", NETWORK_FORMATS)
            options["codec_whitelist"] = NETWORK_DECODERS
        self._open_args = dict(file=url, format=fmt, options=options)
        self.loop = loop
        self._network = network
        self._open()

    def _open(self) -> None:
        try:
            self.container = av.open(**self._open_args)
        except (av.FFmpegError, OSError) as exc:
            raise InputError(str(exc)) from exc
        if not self.container.streams.video:
            self.container.close()
            raise InputError("the input has no video stream")
        self.video = self.container.streams.video[0]
        self.audio = self.container.streams.audio[0] if self.container.streams.audio else None
        if self._network:
            self._check_codecs()

    def _check_codecs(self) -> None:
        """Only audio and video codecs from the network: a stream of anything else (a text
        or image codec a demuxer made up from what answered) is not a camera."""
        video = self.video.codec_context.codec.canonical_name
        if video not in VIDEO_CODECS:
            self.container.close()
            raise InputError(f"the input's video codec {video!r} is not a camera's")
        if self.audio is not None and self.audio.codec_context.codec.canonical_name not in AUDIO_CODECS:
            self.audio = None

    def packets(self, stop: threading.Event) -> Iterator[tuple[av.Packet, float]]:
        streams = [s for s in (self.video, self.audio) if s is not None]
        offset = 0  # in 1/1000 s, added on every loop of a file
        frame_ms = round(1000 / float(self.video.average_rate or 25))
        start_wall = time.monotonic()
        while not stop.is_set():
            last_ms = 0
            for packet in self.container.demux(streams):
                if stop.is_set():
                    return
                if packet.size == 0:
                    continue
                if self.loop:
                    ts = packet.dts if packet.dts is not None else packet.pts
                    if ts is not None and packet.time_base:
                        ms = int(ts * packet.time_base * 1000)
                        last_ms = max(last_ms, ms)
                        _sleep_until(start_wall + ms / 1000, stop)
                        shift = int(Fraction(offset, 1000) / packet.time_base)
                        packet.pts = None if packet.pts is None else packet.pts + shift
                        packet.dts = None if packet.dts is None else packet.dts + shift
                yield packet, time.time()
            if not self.loop:
                return
            # the next round follows on one frame after the last, in time and in timestamps
            offset += last_ms + frame_ms
            start_wall += (last_ms + frame_ms) / 1000
            self.container.seek(0)

    def close(self) -> None:
        self.container.close()


# FFmpeg's lavfi generators a `testsrc://` URI may name (its host part).
TEST_PATTERNS = ("testsrc2", "smptebars", "testsrc", "rgbtestsrc", "mandelbrot")


@dataclass(frozen=True)
class TestPatternConfig:
    """The built-in test pattern and its one URI grammar, `testsrc://<pattern>?size=WxH&rate=N
    &gop=S`: read here for the recorder and the URI policy, written here (`uri`) for the
    GUI's source form, the demo sources and the self-test, so none of them spells it."""

    width: int = 640
    height: int = 360
    rate: int = 25
    gop_seconds: float = 2.0
    pattern: str = "testsrc2"

    def uri(self) -> str:
        return (f"testsrc://{self.pattern}?size={self.width}x{self.height}&rate={self.rate}"
                f"&gop={self.gop_seconds:g}")

    @classmethod
    def from_uri(cls, uri: str) -> "TestPatternConfig":
        parts = urlsplit(uri)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        size = query.get("size", f"{cls.width}x{cls.height}")
        try:
            width, height = (int(x) for x in size.lower().split("x"))
            rate = int(query.get("rate", cls.rate))
            gop = float(query.get("gop", cls.gop_seconds))
        except ValueError:
            raise ValueError(f"testsrc URI {uri!r}: size must be WxH, rate and gop numbers") from None
        pattern = parts.netloc or query.get("pattern", "testsrc2")
        if pattern not in TEST_PATTERNS:
            raise ValueError(f"testsrc URI {uri!r}: unknown pattern {pattern!r}")
        if not (16 <= width <= 3840 and 16 <= height <= 2160 and width % 2 == 0 and height % 2 == 0):
            raise ValueError(f"testsrc URI {uri!r}: size must be even, 16x16 to 3840x2160")
        if not (1 <= rate <= 60 and 0.2 <= gop <= 20):
            raise ValueError(f"testsrc URI {uri!r}: rate 1-60, gop 0.2-20 seconds")
        return cls(width, height, rate, gop, pattern)


class TestPatternInput(PacketInput):
    """FFmpeg's lavfi test pattern, stamped with the wall clock and encoded to H.264 at real
    time, so that it records by stream copy exactly like a camera."""

    def __init__(self, config: TestPatternConfig):
        self.config = c = config
        self._source = av.open(f"{c.pattern}=size={c.width}x{c.height}:rate={c.rate},format=yuv420p",
                               format="lavfi")
        # An output stream of a throwaway container is the encoder *and* the template that
        # recordings copy their stream parameters (SPS/PPS as avcC) from.
        self._template_owner = av.open(io.BytesIO(), "w", format="mp4")
        gop = max(1, round(c.rate * c.gop_seconds))
        stream = self._template_owner.add_stream(
            "libx264", rate=c.rate,
            options={"preset": "ultrafast", "tune": "zerolatency", "g": str(gop),
                     "keyint_min": str(gop), "sc_threshold": "0", "bf": "0"},
        )
        stream.width, stream.height, stream.pix_fmt = c.width, c.height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, c.rate)
        self._template_owner.start_encoding()
        self.video = stream

    def _stamp(self, frame: av.VideoFrame) -> av.VideoFrame:
        """Burn the wall clock into the luma plane: cheap, and proves frames are live."""
        planes = frame.to_ndarray()  # yuv420p: Y rows then the U and V rows
        now = time.time()
        text = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + f".{int(now % 1 * 10)}"
        scale = max(0.5, self.config.height / 480)
        luma = planes[:self.config.height]
        burn_text(luma, text, (int(12 * scale), int(self.config.height - 16 * scale)),
                  int(26 * scale))
        out = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        out.pts, out.time_base = frame.pts, frame.time_base
        return out

    def packets(self, stop: threading.Event) -> Iterator[tuple[av.Packet, float]]:
        start = time.monotonic()
        index = 0
        for frame in self._source.decode(video=0):
            if stop.is_set():
                return
            _sleep_until(start + index / self.config.rate, stop)
            stamped = self._stamp(frame)
            stamped.pts = index
            index += 1
            for packet in self.video.encode(stamped):
                if packet.size:
                    yield packet, time.time()

    def close(self) -> None:
        self._source.close()
        try:
            self._template_owner.close()
        except (av.FFmpegError, ValueError):
            pass


def network_target(uri: str, policy: OutgoingPolicy | None) -> tuple[str, dict[str, str]]:
    """The URL FFmpeg opens for a network `uri` and the options that go with it: the host
    resolved and checked by `policy` (None: loopback and private networks only), replaced by
    the checked address; for HTTP the name kept in a `Host` header and no redirect followed.
    A refused address raises `RefusedInput` (nothing was opened), a name that does not
    resolve `InputError`."""
    policy = policy or OutgoingPolicy()
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    options: dict[str, str] = {}
    if scheme in ("http", "https"):
        options["max_redirects"] = "0"  # a 3xx could send FFmpeg anywhere: an error instead
    host = (parts.hostname or "").strip("[]")
    listening = scheme in ("udp", "srt")
    if not host or (listening and _unspecified(host)):
        return uri, options  # udp://:5000, srt://:9000?mode=listener: the station listens
    try:
        url, original = policy.pin_url(uri, listen=listening)
    except RefusedAddress as exc:
        raise RefusedInput(str(exc)) from None
    except OSError as exc:
        raise InputError(str(exc)) from exc
    if original and scheme in ("http", "https"):
        options["headers"] = f"Host: {original}\r\n"
    return url, options


def _unspecified(host: str) -> bool:
    return host in ("0.0.0.0", "::")


def open_input(uri: str, policy: OutgoingPolicy | None = None) -> PacketInput:
    """Open `uri` (see the module docstring for the schemes); raises `InputError`, and
    `RefusedInput` when `policy` (None: loopback and private networks) forbids its address."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme == "testsrc":
        try:
            return TestPatternInput(TestPatternConfig.from_uri(uri))
        except ValueError as exc:
            raise InputError(str(exc)) from exc
    if scheme in ("rtsp", "rtsps"):
        from recorder.rtsp_input import open_rtsp  # it builds on this module

        transport = "udp" if parts.fragment.lower() == "udp" else "tcp"
        return open_rtsp(uri.split("#", 1)[0], transport, policy)
    if scheme == "file":  # "file:" first: the path is never read as another protocol
        return ContainerInput("file:" + file_path(uri), loop=True, formats=FILE_FORMATS)
    if scheme == "device":
        return ContainerInput(parts.path, fmt="v4l2")
    if scheme == "screen":
        display = parts.netloc or parts.path or ":0.0"
        return ContainerInput(display, fmt="x11grab", options={"framerate": "10"})
    if scheme in STREAM_SCHEMES:
        url, options = network_target(uri, policy)
        return ContainerInput(url, options=options, network=True, scheme=scheme)
    raise InputError(validate_uri(uri) or f"cannot open {uri!r}")
