"""The kinds of source an operator can add, and the plain-Python side of their forms: which
kind a stored source is, URIs built from form fields and split back into them, the local
X displays this machine has (its cameras are the device service's: app.services.devices).
No Qt here, so all of it is easy to test.

The station stores every video input as one URI (`uri_rtsp`, schemes in `recorder.inputs`);
an HTTP snapshot camera is a `PictureSource` with `uri_http_picture` instead.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from app.schemas import MASK, SourceOut
from app.uri_policy import TEST_PATTERNS, TestPatternConfig

X11_SOCKETS = Path("/tmp/.X11-unix")

PATTERN_TITLES = {
    "testsrc2": "Test card (testsrc2)",
    "smptebars": "SMPTE colour bars",
    "testsrc": "Test card, classic (testsrc)",
    "rgbtestsrc": "RGB stripes",
    "mandelbrot": "Mandelbrot zoom",
}
# The patterns the grammar takes, each with its title (its own name when it has none).
PATTERNS = {key: PATTERN_TITLES.get(key, key) for key in TEST_PATTERNS}
SIZES = ("320x240", "640x360", "1280x720", "1920x1080")


@dataclass(frozen=True)
class Kind:
    key: str
    title: str
    subtitle: str
    icon: str


KINDS = (
    Kind("stream", "Network camera", "RTSP, RTMP, SRT, HLS, HTTP", "camera-network"),
    Kind("onvif", "Find cameras", "ONVIF cameras on this network", "find-camera"),
    Kind("snapshot", "Snapshot camera", "JPEG pictures over HTTP", "snapshot"),
    Kind("device", "Local camera", "USB or built-in (V4L2)", "webcam"),
    Kind("screen", "Screen", "Capture an X11 display", "screen"),
    Kind("testsrc", "Test pattern", "Built-in generator", "test-pattern"),
    Kind("file", "Video file", "Played in a loop", "video-file"),
)


def kind_of(source: SourceOut) -> str:
    """Which form edits `source`."""
    if source.model.value == "PictureSource":
        return "snapshot"
    scheme = urlsplit(source.uri_rtsp or "").scheme.lower()
    return {"testsrc": "testsrc", "device": "device", "screen": "screen", "file": "file"}.get(
        scheme, "stream")


# --- network streams: credentials live in their own fields, not in the URL the operator types --
def split_credentials(uri: str) -> tuple[str, str, str | None, bool]:
    """`rtsp://user:pw@host/x#udp` → ("rtsp://host/x", "user", "pw", True)."""
    udp = uri.lower().endswith("#udp")
    if udp:
        uri = uri[:-4]
    parts = urlsplit(uri)
    if "@" not in parts.netloc:
        return uri, "", None, udp
    userinfo, host = parts.netloc.rsplit("@", 1)
    user, sep, password = userinfo.partition(":")
    bare = urlunsplit(parts._replace(netloc=host))
    return bare, unquote(user), (password if password == MASK else unquote(password)) if sep else None, udp


def join_credentials(url: str, user: str, password: str | None, udp: bool = False) -> str:
    """The inverse of `split_credentials`. Without a user the URL is kept as typed (it may
    carry its own credentials); the mask stays as is, so the core can keep the stored one."""
    url = url.strip()
    if user:
        parts = urlsplit(url)
        host = parts.netloc.rsplit("@", 1)[-1]
        userinfo = quote(user, safe="")
        if password:
            userinfo += ":" + (MASK if password == MASK else quote(password, safe=""))
        url = urlunsplit(parts._replace(netloc=f"{userinfo}@{host}"))
    if udp and urlsplit(url).scheme.lower() in ("rtsp", "rtsps") and not url.lower().endswith("#udp"):
        url += "#udp"
    return url


# --- the test pattern: its URI is `TestPatternConfig`'s (app.uri_policy), never spelt here ---
def test_pattern_of(uri: str) -> TestPatternConfig:
    """The form's fields of a stored test pattern; the defaults for one the grammar refuses."""
    try:
        return TestPatternConfig.from_uri(uri)
    except ValueError:
        return TestPatternConfig()


SIZE_RE = re.compile(r"^\s*(\d+)\s*[x×X]\s*(\d+)\s*$")


def parse_size(text: str) -> tuple[int, int] | None:
    match = SIZE_RE.match(text)
    return (int(match[1]), int(match[2])) if match else None


# --- screens ---------------------------------------------------------------------------------
def list_displays() -> list[str]:
    """X displays to capture: `$DISPLAY` first, then the local X servers' sockets."""
    displays = []
    current = os.environ.get("DISPLAY", "").strip()
    if current:
        displays.append(current)
    try:
        sockets = sorted(X11_SOCKETS.glob("X*"), key=lambda p: p.name)
    except OSError:
        sockets = []
    for socket in sockets:
        number = socket.name[1:]
        if number.isdigit() and f":{number}" not in displays and f":{number}.0" not in displays:
            displays.append(f":{number}")
    return displays


def screen_uri(display: str) -> str:
    return f"screen://{display.strip()}"


def display_of(uri: str) -> str:
    parts = urlsplit(uri)
    return parts.netloc or parts.path or ":0.0"


# --- files -----------------------------------------------------------------------------------
def file_uri(path: str) -> str:
    return "file://" + str(Path(path.strip()).expanduser().resolve())


def path_of(uri: str) -> str:
    return urlsplit(uri).path
