"""A client of the station's live event stream (`GET /api/v1/event/stream`, Server-Sent
Events) on a thread of its own: what the tests and the modes benchmark read alarms from, as an
operator's tool would, each message with the wall time it arrived (for latencies)."""

from __future__ import annotations

import http.client
import json
import queue
import threading
import time
from datetime import datetime
from typing import Callable
from urllib.parse import urlsplit


class EventStreamClient:
    def __init__(self, url: str, query: str, *, timeout: float = 60.0):
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        self.conn.request("GET", f"/api/v1/event/stream?{query}")
        self.response = self.conn.getresponse()
        if self.response.status != 200:
            raise RuntimeError(f"event stream: {self.response.status}")
        self.messages: queue.Queue[tuple[float, dict]] = queue.Queue()  # (arrived, message)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        block: list[str] = []
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\r\n")
                if line and not line.startswith(":"):  # a comment line is a keep-alive
                    block.append(line)
                elif not line and block:
                    fields = dict(part.split(": ", 1) for part in block)
                    self.messages.put((time.time(), json.loads(fields["data"])))
                    block = []
        except (OSError, ValueError, AttributeError):  # closed by close() (http.client
            pass  # drops its file object: AttributeError)

    def next(self, predicate: Callable[[dict], bool], timeout: float) -> dict:
        """The next message `predicate` accepts (queue.Empty after `timeout` for each wait)."""
        while True:
            _, message = self.messages.get(timeout=timeout)
            if predicate(message):
                return message

    def opened(self, kind: str, source_ids: set[int], timeout: float) -> dict[int, tuple]:
        """The next `opened` event of `kind` for each of `source_ids`: {source: (arrived,
        event)}; as many as came within `timeout`."""
        found: dict[int, tuple] = {}
        deadline = time.monotonic() + timeout
        while len(found) < len(source_ids):
            try:
                arrived, message = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            event = message["event"]
            if (message["change"] == "opened" and event["kind"] == kind
                    and event["source_id"] in source_ids and event["source_id"] not in found):
                found[event["source_id"]] = (arrived, event)
        return found

    def close(self) -> None:
        self.conn.close()


def wall_seconds(iso: str) -> float:
    """An event's `begin`/`end` (ISO 8601, UTC with `Z`) as wall-clock seconds, to compare
    with the moments a test took (time.time(), a camera's PLAY)."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
