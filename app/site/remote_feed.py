"""Live pictures of another station's source, for this station's viewers (the GUI's tiles).

Only the owner reads a camera (issue #15): a second station opening it would double the load
on the camera and the network. A viewer here gets the owner's MJPEG instead
(asked through the site client, `SiteClient.live_video`: signed for that owner, its address
checked, no redirect followed) at a reduced rate (`DELAY_S` between pictures),
each JPEG decoded into a `FrameSlot` like the one a local reader fills, so a tile shows a
remote source exactly as a local one.

The feed follows demand: its slot (`RemoteSlot`) wakes it when someone starts watching, its
thread reads only while somebody watches and ends when nobody does (no connection is held for
a hidden tile). An owner that goes away ends the stream; the feed asks again every `RETRY_S`
while watched, so pictures come back by themselves with the owner. Nothing here runs on the
GUI thread: a tile only ever pulls the latest frame from the slot.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator

from app.errors import StationError
from app.site.client import SiteClient
from app.site.stations import StationRegistry
from recorder.frames import Demand, FrameSlot
from recorder.imaging import decode_jpeg
from recorder.manager import LiveStats

log = logging.getLogger(__name__)

DELAY_S = 0.5          # the owner sends a picture every half second: a tile's "reduced rate"
RETRY_S = 2.0          # an owner away or refusing: asked again this often while watched
READ_TIMEOUT_S = 10.0  # no byte for this long: the owner is gone without closing (a network cut)
MAX_PART = 16 << 20    # a part larger than this is not a picture


class RemoteSlot(FrameSlot):
    """A frame slot that tells its feed when a viewer arrives or asks for more."""

    def __init__(self, wake: Callable[[], None]):
        super().__init__()
        self._wake = wake

    def watch(self, demand: Demand, box: tuple[int, int] | None = None) -> int:
        token = super().watch(demand, box)
        self._wake()
        return token

    def change(self, token: int, demand: Demand, box: tuple[int, int] | None = None) -> None:
        super().change(token, demand, box)
        self._wake()


class RemoteFeed:
    """One source of another station: its slot, and the thread reading the owner's MJPEG
    while somebody watches. `error`: why there is no picture now (None while streaming)."""

    def __init__(self, source_id: int, site: StationRegistry, peers: SiteClient):
        self.source_id, self.site, self.peers = source_id, site, peers
        self.slot = RemoteSlot(self._wake)
        self.error: str | None = None
        self.retry_at: float | None = None
        self._arrivals: deque[float] = deque(maxlen=8)
        self._lock = threading.Lock()
        self._running = False

    # --- demand --------------------------------------------------------------------
    def _wake(self) -> None:
        with self._lock:
            if self._running or self.slot.demand is Demand.NONE:
                return
            self._running = True
        threading.Thread(target=self._run, name=f"remote-feed-{self.source_id}",
                         daemon=True).start()

    def _watched(self) -> bool:
        """Still watched; else the thread is marked ended in the same step, so a viewer
        arriving now starts a new one rather than finding this one about to leave."""
        with self._lock:
            if self.slot.demand is not Demand.NONE:
                return True
            self._running = False
            return False

    # --- the thread ----------------------------------------------------------------
    def _run(self) -> None:
        while self._watched():
            try:
                self._stream()
            except (StationError, OSError, ValueError) as exc:
                self.error = _reason(exc)
                self.retry_at = time.time() + RETRY_S
                log.debug("remote feed of source %d: %s", self.source_id, self.error)
                self._pause(RETRY_S)
            else:
                self.retry_at = None
            self._arrivals.clear()

    def _pause(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and self.slot.demand is not Demand.NONE:
            time.sleep(0.1)

    def _stream(self) -> None:
        """Read the owner's MJPEG into the slot until nobody watches or the owner stops."""
        owner = self.site.owner(self.source_id)
        if self.site.is_local(owner):
            raise ValueError("the source is read by this station now")
        with self.peers.live_video(owner, self.source_id, DELAY_S,
                                   timeout=READ_TIMEOUT_S) as response:
            boundary = _boundary(response.headers.get("Content-Type", ""))
            for jpeg in _parts(response, boundary):
                self.slot.put(decode_jpeg(jpeg))
                self.error, self.retry_at = None, None
                self._arrivals.append(time.monotonic())
                if self.slot.demand is Demand.NONE:
                    return
        self.error = f"station {self.site.name_of(owner)!r} ended the stream"

    # --- what a tile shows ---------------------------------------------------------
    def fps(self) -> float:
        """Pictures per second arriving now (0 when the last one is old)."""
        times = list(self._arrivals)
        if len(times) < 2 or time.monotonic() - times[-1] > 3 * DELAY_S + 1:
            return 0.0
        return round((len(times) - 1) / (times[-1] - times[0]), 1)


class RemoteFeeds:
    """The feeds of this station's viewers, one per remote source asked for, each asking the
    owner through the station's site client (`peers`)."""

    def __init__(self, site: StationRegistry, peers: SiteClient):
        self.site, self.peers = site, peers
        self._feeds: dict[int, RemoteFeed] = {}
        self._lock = threading.Lock()

    def slot(self, source_id: int) -> FrameSlot:
        with self._lock:
            feed = self._feeds.get(source_id)
            if feed is None:
                feed = self._feeds[source_id] = RemoteFeed(source_id, self.site, self.peers)
        return feed.slot

    def live_stats(self, source_id: int) -> LiveStats:
        """The owner's word on the source (its heartbeat, or offline and why), with the
        feed's own trouble when the owner says online but no picture comes."""
        status, error = self.site.status(source_id)
        feed = self._feeds.get(source_id)
        if feed is None or status != "online":
            return LiveStats(status, error, None, 0.0)
        return LiveStats(status, feed.error or error, feed.retry_at, feed.fps())


def _boundary(content_type: str) -> bytes:
    for param in content_type.split(";")[1:]:
        key, _, value = param.strip().partition("=")
        if key.lower() == "boundary" and value:
            return value.strip('"').encode()
    raise ValueError(f"not a multipart stream: {content_type or 'no Content-Type'}")


def _parts(stream, boundary: bytes) -> Iterator[bytes]:
    """The bodies of a multipart/x-mixed-replace stream, each as its Content-Length says."""
    marker = b"--" + boundary
    while True:
        line = stream.readline()
        if not line:
            return
        if line.strip() != marker:
            continue
        length = None
        while (header := stream.readline().strip()):
            name, _, value = header.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None or not 0 < length <= MAX_PART:
            raise ValueError("a part of the stream without a usable Content-Length")
        body = stream.read(length)
        if len(body) < length:
            return
        yield body


def _reason(exc: BaseException) -> str:
    if isinstance(exc, StationError):
        return exc.message
    return f"no picture from the owner: {getattr(exc, 'reason', None) or exc}"
