"""HTTP snapshot cameras (`PictureSource`): poll a JPEG URL at a set interval, with basic or
digest auth, and present the JPEGs as a packet stream. Each JPEG is an MJPEG packet whose
timestamp is its capture time, so a recording is a video of the snapshots, made by stream
copy like any camera (no decode, no encode).

The HTTP client is aiohttp on a private event loop owned by the source's reader thread. It
connects only where the outgoing policy (`recorder.outgoing`) allows: a name is resolved and
checked by the policy's resolver on every connection (a second DNS answer cannot move it), an
address is checked as it is, and no redirect is followed (a 3xx is a failed snapshot).
"""

from __future__ import annotations

import asyncio
import io
import socket
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Iterator
from urllib.parse import urlsplit

import aiohttp
import av

from recorder.imaging import PictureError, picture_size
from recorder.inputs import InputError, PacketInput, RefusedInput
from recorder.outgoing import OutgoingPolicy, RefusedAddress, is_ip_address

MAX_JPEG_BYTES = 16 << 20
FAILURES_BEFORE_OFFLINE = 3


@dataclass(frozen=True)
class PictureSpec:
    uri: str
    auth: str | None = None      # "basic" | "digest" | None
    user: str | None = None
    password: str | None = None
    interval: float = 1.0        # seconds between snapshots


class PictureInput(PacketInput):
    reader = "station"

    def __init__(self, spec: PictureSpec, *, timeout: float = 10.0,
                 policy: OutgoingPolicy | None = None):
        self.spec = spec
        self._timeout = timeout
        self._policy = policy or OutgoingPolicy()
        self._template_owner: av.container.OutputContainer | None = None
        self._loop = asyncio.new_event_loop()
        self._session = self._loop.run_until_complete(self._make_session())
        self._start_wall = time.time()
        try:
            first = self._fetch()
            width, height = jpeg_size(first)
        except BaseException:
            self.close()
            raise
        self._pending = first
        # The template stream of a throwaway container: what recordings copy their MJPEG
        # stream parameters from.
        self._template_owner = av.open(io.BytesIO(), "w", format="mp4")
        stream = self._template_owner.add_stream("mjpeg", rate=max(1, round(1 / spec.interval)))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuvj420p"
        self._template_owner.start_encoding()
        self.video = stream

    async def _make_session(self) -> aiohttp.ClientSession:
        spec = self.spec
        kwargs: dict = {"timeout": aiohttp.ClientTimeout(total=self._timeout),
                        "connector": aiohttp.TCPConnector(resolver=_PolicyResolver(self._policy),
                                                          use_dns_cache=False)}
        if spec.auth == "digest" and spec.user is not None:
            kwargs["middlewares"] = (aiohttp.DigestAuthMiddleware(spec.user, spec.password or ""),)
        elif spec.user is not None:
            kwargs["headers"] = {"Authorization": aiohttp.encode_basic_auth(spec.user, spec.password or "")}
        return aiohttp.ClientSession(**kwargs)

    async def _get(self) -> bytes:
        host = (urlsplit(self.spec.uri).hostname or "").strip("[]")
        if is_ip_address(host):  # aiohttp asks no resolver for an address: checked here
            self._policy.check_ip(host)
        async with self._session.get(self.spec.uri, allow_redirects=False) as resp:
            if resp.status != 200:
                reason = "authentication failed" if resp.status == 401 else resp.reason
                raise InputError(f"snapshot HTTP {resp.status}: {reason}")
            data = await resp.content.read(MAX_JPEG_BYTES + 1)
        if len(data) > MAX_JPEG_BYTES:
            raise InputError("snapshot larger than 16 MiB")
        if not data.startswith(b"\xff\xd8"):
            raise InputError("the snapshot URL did not return a JPEG")
        return data

    def _fetch(self) -> bytes:
        try:
            return self._loop.run_until_complete(self._get())
        except RefusedAddress as exc:
            raise RefusedInput(str(exc)) from None
        except aiohttp.ClientConnectorError as exc:
            if isinstance(exc.os_error, RefusedAddress):
                raise RefusedInput(str(exc.os_error)) from None
            raise InputError(f"snapshot request failed: {exc}") from None
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError, ValueError) as exc:
            raise InputError(f"snapshot request failed: {exc or type(exc).__name__}") from None

    def _packet(self, jpeg: bytes, captured: float) -> av.Packet:
        packet = av.Packet(jpeg)
        packet.time_base = Fraction(1, 1000)
        packet.pts = packet.dts = round((captured - self._start_wall) * 1000)
        packet.duration = round(self.spec.interval * 1000)
        packet.is_keyframe = True
        packet.stream = self.video
        return packet

    def packets(self, stop: threading.Event) -> Iterator[tuple[av.Packet, float]]:
        interval = self.spec.interval
        deadline = time.monotonic()
        failures = 0
        jpeg, captured = self._pending, self._start_wall
        last_pts = -1
        while not stop.is_set():
            if jpeg is not None:
                packet = self._packet(jpeg, captured)
                if packet.pts > last_pts:
                    last_pts = packet.pts
                    yield packet, time.time()
            deadline += interval
            delay = deadline - time.monotonic()
            if delay > 0:
                stop.wait(delay)
            else:
                deadline = time.monotonic()  # a slow camera: do not burst to catch up
            if stop.is_set():
                return
            try:
                jpeg, captured = self._fetch(), time.time()
                failures = 0
            except InputError:
                jpeg = None
                failures += 1
                if failures >= FAILURES_BEFORE_OFFLINE:
                    raise

    def close(self) -> None:
        if not self._loop.is_closed():
            self._loop.run_until_complete(self._session.close())
            self._loop.close()
        if self._template_owner is not None:
            try:
                self._template_owner.close()
            except (av.FFmpegError, ValueError):
                pass


class _PolicyResolver(aiohttp.abc.AbstractResolver):
    """aiohttp's resolver asking the outgoing policy: only addresses it allows come back."""

    def __init__(self, policy: OutgoingPolicy):
        self._policy = policy

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list:
        return [{"hostname": host, "host": address, "port": port,
                 "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST}
                for address in self._policy.resolve(host, port)]

    async def close(self) -> None:
        pass


def jpeg_size(data: bytes) -> tuple[int, int]:
    try:
        return picture_size(data)
    except PictureError:
        raise InputError("the snapshot is not a valid JPEG") from None
