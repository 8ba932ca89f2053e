"""A real HTTP snapshot camera for tests: an aiohttp server on its own thread serving a fresh
JPEG per request (a counter drawn in it) at `/open.jpg`, `/basic.jpg` (HTTP basic auth) and
`/digest.jpg` (HTTP digest auth, RFC 7616 MD5 with qop=auth, as IP cameras do)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import threading

import cv2
import numpy as np
from aiohttp import web

REALM = "snapshot-camera"


def _md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def _digest_params(header: str) -> dict[str, str]:
    params = {}
    for part in header.removeprefix("Digest ").split(","):
        key, _, value = part.strip().partition("=")
        params[key] = value.strip('"')
    return params


class SnapshotCamera:
    def __init__(self, user: str = "admin", password: str = "s3cret", width: int = 320, height: int = 240):
        self.user, self.password, self.width, self.height = user, password, width, height
        self.served = 0
        self.failures = 0
        self._nonces: set[str] = set()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="snapshot-camera")
        self.port = 0

    def url(self, kind: str = "open") -> str:
        return f"http://127.0.0.1:{self.port}/{kind}.jpg"

    def _jpeg(self) -> bytes:
        self.served += 1
        image = np.full((self.height, self.width, 3), (40, 90, 160), np.uint8)
        cv2.rectangle(image, (self.served * 7 % self.width, 20), (self.served * 7 % self.width + 30, 60),
                      (255, 255, 255), -1)
        cv2.putText(image, f"#{self.served}", (10, self.height - 20), cv2.FONT_HERSHEY_SIMPLEX, 1.2,
                    (255, 255, 0), 2)
        return cv2.imencode(".jpg", image)[1].tobytes()

    def _deny(self, kind: str) -> web.Response:
        self.failures += 1
        if kind == "basic":
            challenge = f'Basic realm="{REALM}"'
        else:
            nonce = secrets.token_hex(16)
            self._nonces.add(nonce)
            challenge = f'Digest realm="{REALM}", nonce="{nonce}", qop="auth", algorithm=MD5'
        return web.Response(status=401, headers={"WWW-Authenticate": challenge})

    def _basic_ok(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        return (user, password) == (self.user, self.password)

    def _digest_ok(self, method: str, header: str) -> bool:
        if not header.startswith("Digest "):
            return False
        p = _digest_params(header)
        if p.get("username") != self.user or p.get("nonce") not in self._nonces:
            return False
        ha1 = _md5(f"{self.user}:{REALM}:{self.password}")
        ha2 = _md5(f"{method}:{p.get('uri')}")
        expected = _md5(f"{ha1}:{p['nonce']}:{p.get('nc')}:{p.get('cnonce')}:{p.get('qop')}:{ha2}")
        return secrets.compare_digest(expected, p.get("response", ""))

    async def _handle(self, request: web.Request) -> web.Response:
        kind = request.match_info["kind"]
        header = request.headers.get("Authorization", "")
        if kind == "basic" and not self._basic_ok(header):
            return self._deny("basic")
        if kind == "digest" and not self._digest_ok(request.method, header):
            return self._deny("digest")
        if kind not in ("open", "basic", "digest"):
            raise web.HTTPNotFound()
        return web.Response(body=self._jpeg(), content_type="image/jpeg")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/{kind}.jpg", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # noqa: SLF001
        self._ready.set()
        self._loop.run_forever()

    def start(self) -> "SnapshotCamera":
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
