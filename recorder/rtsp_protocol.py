"""RTSP over one TCP connection (RFC 2326), only what recording a camera needs: OPTIONS,
DESCRIBE, SETUP with interleaved TCP transport, PLAY, keep-alive and TEARDOWN, with Basic
and Digest (RFC 2617, MD5) authentication, plus the SDP the camera describes itself with.

Why the station speaks RTSP itself instead of leaving it to FFmpeg: FFmpeg's RTSP demuxer
reads the socket three times per RTP packet (`$`, the frame header, the payload), each read
a poll plus a recv, and wakes its thread for every TCP segment. That alone costs about as
much CPU as a whole `ffmpeg -c copy` process. `recorder.rtsp_input` reads everything that
arrived in one recv a few times a second instead; this module carries the conversation.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

MAX_HEADER = 64 << 10


class RtspError(Exception):
    """The camera refused a request or answered with something that is not RTSP."""


class Unsupported(Exception):
    """The camera sends something the station's own reader does not handle: FFmpeg reads it."""


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str]
    body: bytes = b""


@dataclass
class Media:
    """One `m=` section of the SDP: what a stream carries and where to SETUP it."""

    kind: str                     # "video", "audio", ...
    payload_type: int
    encoding: str = ""            # upper case: H264, H265, MPEG4-GENERIC, PCMA, PCMU ...
    clock_rate: int = 90000
    channels: int = 1
    fmtp: dict[str, str] = field(default_factory=dict)  # keys lower case
    control: str = ""


STATIC_PAYLOADS = {0: ("PCMU", 8000, 1), 8: ("PCMA", 8000, 1)}


def parse_sdp(text: str) -> list[Media]:
    medias: list[Media] = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("m="):
            parts = line[2:].split()
            pt = int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else -1
            media = Media(parts[0].lower(), pt)
            if pt in STATIC_PAYLOADS:
                media.encoding, media.clock_rate, media.channels = STATIC_PAYLOADS[pt]
            medias.append(media)
        elif not medias:
            continue
        elif line.startswith("a=rtpmap:"):
            pt, _, spec = line[9:].partition(" ")
            if pt.strip() == str(medias[-1].payload_type):
                name, _, rest = spec.strip().partition("/")
                rate, _, channels = rest.partition("/")
                medias[-1].encoding = name.upper()
                medias[-1].clock_rate = int(rate) if rate.isdigit() else medias[-1].clock_rate
                medias[-1].channels = int(channels) if channels.isdigit() else 1
        elif line.startswith("a=fmtp:"):
            _, _, params = line[7:].partition(" ")
            for item in params.split(";"):
                key, _, value = item.strip().partition("=")
                if key:
                    medias[-1].fmtp[key.lower()] = value.strip()
        elif line.startswith("a=control:"):
            medias[-1].control = line[10:].strip()
    return medias


def message_end(buf: bytearray, pos: int = 0) -> int | None:
    """Where the RTSP message starting at `pos` ends, body included; None while incomplete.
    Used for the answers to requests and for those that arrive between the media."""
    head_end = buf.find(b"\r\n\r\n", pos)
    if head_end < 0:
        return None
    head = bytes(buf[pos:head_end]).lower()
    length = 0
    if b"content-length:" in head:
        value = head.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0].strip()
        length = int(value) if value.isdigit() else 0
    end = head_end + 4 + length
    return end if end <= len(buf) else None


def _parse_challenge(value: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = value.strip().partition(" ")
    params = {k.lower(): v1 if v1 else v2
              for k, v1, v2 in re.findall(r'(\w+)\s*=\s*(?:"([^"]*)"|([^\s,]+))', rest)}
    return scheme.lower(), params


class RtspConnection:
    """One RTSP session on one TCP socket. Requests are answered in order; interleaved media
    that arrives before an answer is kept in `buffer` for the reader."""

    def __init__(self, url: str, timeout: float,
                 connect: Callable[..., socket.socket] = socket.create_connection):
        parts = urlsplit(url)
        if parts.hostname is None:
            raise RtspError(f"no host in {url!r}")
        self.username = unquote(parts.username) if parts.username is not None else None
        self.password = unquote(parts.password or "")
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        netloc = host + (f":{parts.port}" if parts.port else "")
        self.url = urlunsplit(("rtsp", netloc, parts.path or "/", parts.query, ""))
        # `connect`: the outgoing policy's (recorder.outgoing), to an address it checked
        self.sock = connect((parts.hostname, parts.port or 554), timeout=timeout)
        self.buffer = bytearray()
        self.session: str | None = None
        self.session_timeout = 60.0
        self._cseq = 0
        self._challenge: tuple[str, dict[str, str]] | None = None
        self._nc = 0

    # --- requests ----------------------------------------------------------------------
    def request(self, method: str, url: str, headers: dict[str, str] | None = None) -> Response:
        """Send and wait for the answer; a 401 is answered once with the credentials."""
        for attempt in (0, 1):
            self.send(method, url, headers)
            response = self.read_response()
            challenge = response.headers.get("www-authenticate")
            if response.status == 401 and attempt == 0 and challenge and self.username is not None:
                self._challenge = self._pick_challenge(response)
                continue
            break
        if response.status == 401:
            raise RtspError("authentication failed" if self.username is not None
                            else "the camera asks for a user name and password")
        if 300 <= response.status < 400:
            # A redirect names an address nobody checked: refused, not handed to FFmpeg
            # (whose RTSP client would follow it).
            raise RtspError(f"{method}: the camera redirects elsewhere ({response.status}), "
                            "which the station does not follow")
        if response.status == 461 or (response.status == 400 and method == "SETUP"):
            raise Unsupported(f"{method}: {response.status} {response.reason}")  # no TCP transport
        if response.status != 200:
            raise RtspError(f"{method} refused: {response.status} {response.reason}")
        session = response.headers.get("session")
        if session:
            sid, *params = (p.strip() for p in session.split(";"))
            self.session = sid
            for param in params:
                key, _, value = param.partition("=")
                if key.lower() == "timeout" and value.isdigit() and int(value) > 0:
                    self.session_timeout = float(value)
        return response

    def send(self, method: str, url: str, headers: dict[str, str] | None = None) -> None:
        self._cseq += 1
        lines = [f"{method} {url} RTSP/1.0", f"CSeq: {self._cseq}",
                 "User-Agent: RecordingStation"]
        if self.session is not None:
            lines.append(f"Session: {self.session}")
        auth = self._authorization(method, url)
        if auth:
            lines.append(f"Authorization: {auth}")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def read_response(self) -> Response:
        """The next RTSP answer; interleaved media before it is dropped (only a keep-alive
        answer can come after PLAY, and `recorder.rtsp_input` skips those itself)."""
        while True:
            if self.buffer[:1] == b"$":
                if len(self.buffer) >= 4:
                    size = 4 + int.from_bytes(self.buffer[2:4], "big")
                    if len(self.buffer) >= size:
                        del self.buffer[:size]
                        continue
            else:
                end = message_end(self.buffer)
                if end is not None:
                    head, _, body = bytes(self.buffer[:end]).partition(b"\r\n\r\n")
                    del self.buffer[:end]
                    response = self._parse_head(head)
                    response.body = body
                    return response
                if b"\r\n\r\n" not in self.buffer and len(self.buffer) > MAX_HEADER:
                    raise RtspError("the camera's answer is not RTSP")
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise RtspError("the camera closed the connection")
            self.buffer += chunk

    @staticmethod
    def _parse_head(head: bytes) -> Response:
        lines = head.decode("latin-1").split("\r\n")
        match = re.match(r"RTSP/\d\.\d\s+(\d{3})\s*(.*)", lines[0])
        if match is None:
            raise RtspError(f"the camera's answer is not RTSP: {lines[0][:80]!r}")
        headers: dict[str, str] = {}
        for line in lines[1:]:
            key, _, value = line.partition(":")
            key = key.strip().lower()
            # several WWW-Authenticate lines: keep them all, one per line
            headers[key] = f"{headers[key]}\n{value.strip()}" if key in headers else value.strip()
        return Response(int(match.group(1)), match.group(2), headers)

    # --- authentication ------------------------------------------------------------------
    @staticmethod
    def _pick_challenge(response: Response) -> tuple[str, dict[str, str]]:
        challenges = [_parse_challenge(v) for v in response.headers["www-authenticate"].split("\n")]
        for scheme, params in challenges:
            if scheme == "digest" and params.get("algorithm", "MD5").upper() == "MD5":
                return scheme, params
        for scheme, params in challenges:
            if scheme == "basic":
                return scheme, params
        raise Unsupported(f"authentication scheme {challenges[0][0]!r}")

    def _authorization(self, method: str, url: str) -> str | None:
        if self._challenge is None or self.username is None:
            return None
        scheme, params = self._challenge
        if scheme == "basic":
            token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
            return f"Basic {token}"

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        realm, nonce = params.get("realm", ""), params.get("nonce", "")
        ha1 = md5(f"{self.username}:{realm}:{self.password}")
        ha2 = md5(f"{method}:{url}")
        fields = [f'username="{self.username}"', f'realm="{realm}"', f'nonce="{nonce}"',
                  f'uri="{url}"']
        if "auth" in [q.strip() for q in params.get("qop", "").split(",")]:
            self._nc += 1
            nc, cnonce = f"{self._nc:08x}", os.urandom(8).hex()
            digest = md5(f"{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}")
            fields += ["qop=auth", f"nc={nc}", f'cnonce="{cnonce}"']
        else:
            digest = md5(f"{ha1}:{nonce}:{ha2}")
        fields.append(f'response="{digest}"')
        if "opaque" in params:
            fields.append(f'opaque="{params["opaque"]}"')
        return "Digest " + ", ".join(fields)

    # --- helpers ---------------------------------------------------------------------------
    def control_url(self, base: str, control: str) -> str:
        if not control or control == "*":
            return base
        if control.lower().startswith("rtsp://"):
            return control
        return urljoin(base if base.endswith("/") else base + "/", control)

    def close(self) -> None:
        try:
            if self.session is not None:
                self.sock.settimeout(0.5)
                self.send("TEARDOWN", self.url)
        except OSError:
            pass
        finally:
            self.sock.close()
