"""Live forwarding: a source copy-muxed to FLV and pushed to an RTMP URL (the RTC dialect's
`publish_param.rtmp_urls`).

A forward is live, not footage: it runs on its own thread behind a `PacketPump`, so a slow or
dead RTMP server never delays the reader or the recordings; when it falls behind it skips to
the next keyframe, and when the server goes away it reconnects with backoff and starts again
at a keyframe with a fresh timeline (RTMP servers expect each publish to start near zero).
"""

from __future__ import annotations

import logging
import random
import re
import threading

import av

from recorder.encoding import COPY
from recorder.mux import MuxOutput
from recorder.outgoing import OutgoingPolicy
from recorder.pump import PacketPump, QueuedPacket
from recorder.redact import mask_uri, redact

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 5.0
# What a forward may push to: an RTMP(S) server, nothing FFmpeg would read as another protocol
# (the core checks the URL in full, `app.uri_policy`; this is the recorder's own floor).
RTMP_URL = re.compile(r"rtmps?://[^\s|]+", re.IGNORECASE)


class FlvOutput(MuxOutput):
    """`policy`: the outgoing-address policy the server's address is checked against at each
    connection (the URL is pinned to the checked address, so a name cannot rebind)."""

    def __init__(self, url: str, policy: OutgoingPolicy | None = None):
        super().__init__(COPY)
        self.url, self.policy = url, policy or OutgoingPolicy()

    def open_container(self) -> av.container.OutputContainer:
        pinned, _ = self.policy.pin_url(self.url)  # RefusedAddress (an OSError) when refused
        self.container = av.open(pinned, "w", format="flv",
                                 timeout=(CONNECT_TIMEOUT_S, CONNECT_TIMEOUT_S))
        return self.container

    def close(self) -> None:
        if self.container is not None:
            try:
                self.container.close()
            except (av.FFmpegError, OSError):
                pass
            self.container = None


class LiveForward:
    """One RTMP destination of one source. `status`: connecting / online / offline."""

    def __init__(self, url: str, *, name: str, policy: OutgoingPolicy | None = None):
        if not RTMP_URL.fullmatch(url):
            raise ValueError("a live forward pushes to an rtmp:// or rtmps:// URL only")
        self.url, self.policy = url, policy
        self.status = "connecting"
        self.error: str | None = None
        self._out: FlvOutput | None = None
        self._retry_at = 0.0
        self._attempt = 0
        self._closed = threading.Event()
        self._pump = PacketPump(name, self._handle, lambda message: None, max_bytes=8 << 20)

    @property
    def dropped(self) -> int:
        return self._pump.dropped

    def write(self, packet: av.Packet, wall: float, session: object, source) -> None:
        """From the reader thread; never blocks."""
        self._pump.offer(packet, wall, session, source)

    def close(self) -> None:
        self._closed.set()
        self._pump.abort()
        self._pump.finish(CONNECT_TIMEOUT_S + 1)
        if self._out is not None:
            self._out.close()
            self._out = None

    def _handle(self, item: QueuedPacket) -> None:
        if self._closed.is_set():
            return
        if self._out is None:
            if not (item.is_video and item.keyframe) or item.wall < self._retry_at:
                return  # a publish starts at a keyframe, after the backoff delay
            self._out = FlvOutput(self.url, self.policy)
        packet = item.packet()
        packet.stream = item.source.video if item.is_video else item.source.audio
        try:
            self._out.write_copy(packet, item.wall, item.session, item.source)
        except (av.FFmpegError, OSError) as exc:
            self._out.close()
            self._out = None
            self._attempt += 1
            delay = min(30.0, 2 ** min(self._attempt, 5)) * random.uniform(0.5, 1.0)
            self._retry_at = item.wall + delay
            error = redact(str(exc), (self.url,))  # FFmpeg may quote the URL
            if (self.status, self.error) != ("offline", error):
                log.warning("forward to %s: %s (retrying in %.0f s)", _safe(self.url), error, delay)
            self.status, self.error = "offline", error
            return
        if self.status != "online":
            self.status, self.error, self._attempt = "online", None, 0


def _safe(url: str) -> str:
    """An RTMP URL for the log: its stream key and credentials masked (recorder.redact)."""
    return mask_uri(url) or ""
