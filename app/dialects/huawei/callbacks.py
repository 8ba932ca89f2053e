"""HTTP callbacks: JSON POSTed to a client's URL on a thread of its own, in order, retried
with exponential backoff until the receiver answers 2xx (the Huawei Live recording
callbacks). A slow or dead receiver never delays a recording or an API request.

Each notification's body is built on the sender's thread right before its first attempt
(so measuring a finished file never runs under a recording lock) and kept for the retries.

Only http:// and https:// are ever requested (`app.uri_policy` checks the URL; the opener
here knows no other scheme, `file:`, `ftp:` and `data:` included) and redirects are not
followed: a callback receiver answers 2xx or the delivery is retried. What the receiver
answers is never read back into the station. Every attempt connects through the station's
outgoing policy (`recorder.outgoing`, `OutgoingPolicy.urlopen`): to an address it checked
just then, so a receiver's name that resolves to a metadata or a forbidden address is never
posted to; such an attempt is not retried.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.error
import urllib.request
from collections import deque
from dataclasses import dataclass
from typing import Callable

from app.errors import InvalidInput
from app.uri_policy import CALLBACK_SCHEMES, check_uri
from recorder.outgoing import OutgoingPolicy, RefusedAddress
from recorder.redact import mask_uri, redact

log = logging.getLogger(__name__)


def shown(url: str) -> str:
    """A callback URL for the log: its password masked."""
    return mask_uri(url) or ""

Payload = Callable[[], dict]


@dataclass
class _Item:
    url: str
    build: Payload
    body: bytes | None = None
    attempts: int = 0


class CallbackSender:
    """FIFO of notifications; one is delivered (or given up on) before the next, so a
    receiver sees a recording's events in the order they happened."""

    def __init__(self, *, name: str = "callbacks", timeout_s: float = 5.0,
                 first_delay_s: float = 1.0, max_delay_s: float = 60.0, max_attempts: int = 10,
                 policy: Callable[[], OutgoingPolicy] | None = None):
        self.timeout_s, self.first_delay_s = timeout_s, first_delay_s
        self.max_delay_s, self.max_attempts = max_delay_s, max_attempts
        # the outgoing-address policy of now; None: loopback and private networks
        self._policy: Callable[[], OutgoingPolicy] = policy or OutgoingPolicy
        self._queue: deque[_Item] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def post(self, url: str, build: Payload) -> None:
        try:
            check_uri(url, field="callback_url", schemes=CALLBACK_SCHEMES, policy=self._policy())
        except InvalidInput as exc:
            log.warning("callback dropped: %s", exc.message)
            return
        with self._cond:
            if self._closing:
                log.warning("callback to %s dropped: the station is shutting down", shown(url))
                return
            self._queue.append(_Item(url, build))
            self._cond.notify()

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def close(self, timeout: float = 5.0) -> None:
        """Give what is queued one last chance (no more backoff), at most `timeout` s."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)
        with self._cond:
            if self._queue:
                log.warning("%d callback(s) not delivered before shutdown", len(self._queue))
            self._queue.clear()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                item = self._queue[0]
            delivered = self._attempt(item)
            with self._cond:
                if delivered or item.attempts >= self.max_attempts or self._closing:
                    if not delivered:
                        log.warning("callback to %s given up after %d attempt(s)",
                                    shown(item.url), item.attempts)
                    self._queue.popleft()
                    continue
                delay = min(self.max_delay_s, self.first_delay_s * 2 ** (item.attempts - 1))
                self._cond.wait_for(lambda: self._closing, delay)

    def _attempt(self, item: _Item) -> bool:
        item.attempts += 1
        try:
            if item.body is None:
                item.body = json.dumps(item.build()).encode()
            request = urllib.request.Request(item.url, data=item.body, method="POST",
                                             headers={"Content-Type": "application/json"})
            with self._policy().urlopen(request, timeout=self.timeout_s) as response:
                ok = 200 <= response.status < 300
        except RefusedAddress as exc:
            log.warning("callback to %s refused: %s", shown(item.url), exc)
            item.attempts = self.max_attempts  # the address will not change by retrying
            return False
        except urllib.error.HTTPError as exc:
            exc.close()
            log.info("callback to %s answered %s (attempt %d)", shown(item.url), exc.code,
                     item.attempts)
            return False
        except Exception as exc:  # noqa: BLE001 - any failure is retried
            log.info("callback to %s failed: %s (attempt %d)", shown(item.url),
                     redact(str(exc) or type(exc).__name__, (item.url,)), item.attempts)
            return False
        return ok
