"""Run the RTSP test camera from the project's own Python (no ``gi`` here).

``rtsp_camera.py`` needs GStreamer's Python bindings, which only the system
Python (``/usr/bin/python3`` with Debian's python3-gi) has, so the camera
runs as a child process of that interpreter::

    with RtspCamera(width=640, height=360) as cam:
        record(cam.url)          # rtsp://127.0.0.1:<port>/cam
        cam.restart()            # same port: the camera "reboots"

Tests should skip when ``skip_reason()`` returns a string.

``RtspCamera(clip=path)`` serves an H.264 MP4 made by
``tests.support.clip.encode_clip`` instead of encoding live: each client
gets the clip from its first keyframe at real time, so dozens of 1080p
cameras cost almost nothing (a live x264 encoder takes a third of a core).

``RtspCamera(clips={"/main": scene, "/sub": scene_360p})`` serves a clip
of its own on each mount point (a scripted scene as a camera's main and
preview stream); ``urls`` follow the order of ``clips`` (or of ``paths``
when given, whose mount points without a clip serve ``clip`` or encode live).

``RtspCamera(log_play=True)`` notes when each client's media starts playing
(``play_times()``): a clip's time 0 for that client in wall time, which lets a
benchmark date what the clip shows (the motion benchmark's entry times).

``RtspCamera(codec="h265")`` encodes live H.265 (x265) instead; check
``skip_reason("h265")``.  ``RtspCamera(auth=("user", "pass"),
auth_method="basic" | "digest")`` makes the camera demand credentials:
``url``/``urls`` stay without them (what a client without credentials
would use), ``url_with_credentials()`` puts them in::

    with RtspCamera(auth=("alice", "s3cret"), auth_method="digest") as cam:
        av.open(cam.url_with_credentials(), options={"rtsp_transport": "tcp"})
"""
import functools
import os
import select
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

SYSTEM_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).resolve().with_name("rtsp_camera.py")
CODECS = ("h264", "h265")
AUTH_METHODS = ("basic", "digest")
ELEMENTS = ("videotestsrc", "clockoverlay", "x264enc", "h264parse",
            "rtph264pay")
# The elements that change when the camera encodes another codec.
CODEC_ELEMENTS = {"h264": ("x264enc", "h264parse", "rtph264pay"),
                  "h265": ("x265enc", "h265parse", "rtph265pay")}
_PROBE = """
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtsp", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import Gst, GstRtsp, GstRtspServer
Gst.init(None)
missing = [e for e in %r if Gst.ElementFactory.find(e) is None]
if missing:
    raise SystemExit("missing GStreamer elements: " + ", ".join(missing))
"""


class CameraError(RuntimeError):
    """The camera process could not be started."""


def _elements(codec):
    if codec not in CODECS:
        raise ValueError(f"codec must be one of {CODECS}, not {codec!r}")
    return ELEMENTS[:2] + CODEC_ELEMENTS[codec]


@functools.lru_cache(maxsize=None)
def skip_reason(codec="h264"):
    """Why the camera cannot run here (a string), or None if it can.

    ``codec`` is the one the camera will encode ("h264" or "h265").
    """
    probe = _PROBE % (_elements(codec),)
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"{SYSTEM_PYTHON} not found (needed for the RTSP test camera)"
    try:
        res = subprocess.run([SYSTEM_PYTHON, "-c", probe], timeout=30,
                             capture_output=True, text=True)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {SYSTEM_PYTHON}: {exc}"
    if res.returncode != 0:
        lines = (res.stderr.strip() or "unknown error").splitlines()
        return ("RTSP test camera unavailable (needs Debian packages "
                "python3-gi gir1.2-gst-rtsp-server-1.0 and GStreamer "
                f"plugins): {lines[-1]}")
    return None


class RtspCamera:
    """A live H.264 (or H.265) RTSP camera on 127.0.0.1, in its own process.

    ``port=None`` lets the kernel choose a free port on the first start;
    ``restart()`` always comes back on the port it had.  ``codec`` is
    "h264" or "h265" (live encoding only: a ``clip`` is H.264).  ``auth``,
    a ``(user, password)`` pair, makes every mount point require those
    credentials with ``auth_method`` "basic" or "digest".
    """

    def __init__(self, width=1920, height=1080, fps=25, gop_seconds=2,
                 bitrate_kbps=4000, port=None, paths=("/cam",), audio="none",
                 pattern="smpte", host="127.0.0.1", startup_timeout=15.0,
                 verbose=False, clip=None, codec="h264", auth=None,
                 auth_method="basic", bframes=0, clips=None, log_play=False):
        _elements(codec)  # validates codec
        clips = {"/" + str(k).strip("/"): v for k, v in (clips or {}).items()}
        if (clip is not None or clips) and codec != "h264":
            raise ValueError("a clip camera serves H.264 only")
        if clips and tuple(paths) == ("/cam",):
            paths = tuple(clips)
        unknown = set(clips) - {"/" + p.partition(":")[0].strip("/") for p in paths}
        if unknown:
            raise ValueError(f"clips for mount points not in paths: {sorted(unknown)}")
        if auth_method not in AUTH_METHODS:
            raise ValueError(f"auth_method must be one of {AUTH_METHODS}, "
                             f"not {auth_method!r}")
        if auth is not None:
            user, password = auth
            if not user or ":" in user:
                raise ValueError("auth user must be non-empty without ':'")
            auth = (str(user), str(password))
        self.width, self.height, self.fps = width, height, fps
        self.gop_seconds, self.bitrate_kbps = gop_seconds, bitrate_kbps
        self.port, self.paths, self.audio = port, list(paths), audio
        self.pattern, self.host, self.verbose = pattern, host, verbose
        self.startup_timeout = startup_timeout
        self.clip, self.clips = clip, clips
        self.codec, self.auth, self.auth_method = codec, auth, auth_method
        self.bframes = bframes
        self.log_play = log_play
        self.urls = []
        self._proc = None
        self._stderr = None

    @property
    def url(self):
        """URL of the first mount point (valid once started)."""
        if not self.urls:
            raise CameraError("camera not started")
        return self.urls[0]

    def url_with_credentials(self, path_index=0):
        """``urls[path_index]`` with the user and password in it.

        rtsp://user:pass@host:port/path, both percent-encoded (FFmpeg
        decodes them); without ``auth`` simply the URL.
        """
        if not self.urls:
            raise CameraError("camera not started")
        url = self.urls[path_index]
        if self.auth is None:
            return url
        user, password = (quote(x, safe="") for x in self.auth)
        scheme, rest = url.split("://", 1)
        return f"{scheme}://{user}:{password}@{rest}"

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self):
        return self._proc.pid if self._proc else None

    def command(self):
        cmd = [SYSTEM_PYTHON, str(SCRIPT), "--port", str(self.port or 0),
               "--host", self.host, "--width", str(self.width),
               "--height", str(self.height), "--fps", str(self.fps),
               "--gop-seconds", str(self.gop_seconds),
               "--bitrate-kbps", str(self.bitrate_kbps),
               "--pattern", self.pattern, "--audio", self.audio,
               "--watch-stdin"]
        for path in self.paths:
            own = self.clips.get("/" + path.partition(":")[0].strip("/"))
            cmd += ["--path", path if own is None else f"{path}={own}"]
        if self.clip is not None:
            cmd += ["--clip", str(self.clip)]
        if self.codec != "h264":
            cmd += ["--codec", self.codec]
        if self.bframes:
            cmd += ["--bframes", str(self.bframes)]
        if self.auth is not None:
            # "--auth=..." so a password starting with "-" is no option.
            cmd += ["--auth=" + ":".join(self.auth),
                    "--auth-method", self.auth_method]
        if self.log_play:
            cmd.append("--log-play")
        return cmd + (["--verbose"] if self.verbose else [])

    def play_times(self) -> dict[str, list[float]]:
        """With `log_play`: per mount point, the wall times (time.time()) at which a
        client's media began to play, in order (a clip's time 0 for that client)."""
        times: dict[str, list[float]] = {}
        for line in self.stderr_text().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "PLAY":
                times.setdefault(parts[1], []).append(float(parts[2]))
        return times

    def start(self):
        """Spawn the camera and wait until it listens; returns self."""
        if self.running:
            return self
        self._cleanup()
        # stderr goes to a file, not a pipe nobody reads, which could fill.
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            self.command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=self._stderr)
        line = self._read_ready_line()
        if not line.startswith("READY "):
            self._terminate()
            raise CameraError(f"RTSP camera failed to start ({line!r}): "
                              f"{self.stderr_text()}")
        self.urls = line.split()[1:]
        self.port = int(self.urls[0].split(":")[2].split("/")[0])
        return self

    def stop(self, timeout=5.0):
        """SIGTERM the camera, wait for it, and SIGKILL it if it hangs."""
        self._terminate(timeout)
        self._cleanup()

    def kill(self):
        """Kill the camera abruptly (SIGKILL), as a crashing camera would."""
        if self.running:
            self._proc.kill()
        self.stop()

    def restart(self):
        """Stop the camera and bring it back on the same port."""
        self.stop()
        return self.start()

    def stderr_text(self):
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace").strip()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _read_ready_line(self):
        deadline = time.monotonic() + self.startup_timeout
        fd, data = self._proc.stdout.fileno(), b""
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                return "timeout after %.0f s" % self.startup_timeout
            chunk = os.read(fd, 4096)
            if not chunk:
                self._proc.wait(timeout=5)
                return f"exited with code {self._proc.returncode}"
            data += chunk
        return data.decode(errors="replace").splitlines()[0].strip()

    def _terminate(self, timeout=5.0):
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _cleanup(self):
        if self._proc is not None:
            for stream in (self._proc.stdin, self._proc.stdout):
                if stream:
                    stream.close()
            self._proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
