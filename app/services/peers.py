"""Asking another station of the site to do what only it can: start or stop its own sources.

A station records only the sources it owns (their video goes to its disk), so a start or a
stop that covers sources of other stations is forwarded to each owner's API (its `public_url`,
from the registry) with the shared API token. The forwarded request carries
`X-RS-Forwarded-By: <station id>`: the owner then acts on its own sources only and never
forwards again, so two stations can never bounce a request between them.

Blocking HTTP (urllib) on the caller's thread: the services are called off the GUI thread
and off the API's event loop already. Several owners are asked side by side.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.errors import Conflict, StationError, StorageFull, Unavailable
from app.services.stations import StationRegistry

log = logging.getLogger(__name__)

FORWARDED_HEADER = "X-RS-Forwarded-By"
ANNOUNCE_WAIT_S = 5.0  # a station registers, then says its URL once its API listens
TIMEOUT_S = 15.0  # a start on the owner commits, opens files and answers: well under this


class Peers:
    """`token()`: the API token every station of the site shares (None: no auth header)."""

    def __init__(self, site: StationRegistry, token: Callable[[], str | None],
                 timeout_s: float = TIMEOUT_S):
        self.site, self.token, self.timeout_s = site, token, timeout_s

    def headers(self) -> dict[str, str]:
        """What a request to another station carries: the token and where it comes from."""
        headers = {FORWARDED_HEADER: self.site.station_id}
        token = self.token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return headers

    def base_url(self, station_id: str) -> str:
        """The owner's API address; `Unavailable` when it is offline or never said one."""
        reason = self.site.offline_reason(station_id, fresh=True)
        if reason is not None:
            raise Unavailable(reason)
        url = self.site.url_of(station_id)
        deadline = time.monotonic() + ANNOUNCE_WAIT_S
        while not url and time.monotonic() < deadline:  # registered, its API not up yet
            time.sleep(0.2)
            seen = self.site.reread(station_id)
            url = seen.url if seen is not None else None
        if not url:
            raise Unavailable(f"station {self.site.name_of(station_id)!r} has no public_url")
        return url

    def call(self, station_id: str, method: str, path: str, body: dict) -> Any:
        """One JSON request to another station; its refusal comes back as the same error
        this station would raise (404, 422 → Conflict, 507, 503)."""
        url = self.base_url(station_id) + path
        request = urllib.request.Request(
            url, method=method, data=json.dumps(body).encode(),
            headers={**self.headers(), "Content-Type": "application/json"})
        name = self.site.name_of(station_id)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            raise _refusal(name, exc) from None
        except (OSError, ValueError) as exc:  # refused, reset, timed out, not JSON
            raise Unavailable(f"station {name!r} did not answer: "
                              f"{getattr(exc, 'reason', None) or exc}") from None

    def each(self, work: dict[str, Callable[[str], Any]]) -> tuple[list[Any], list[StationError]]:
        """Run `work[station_id](station_id)` for every station side by side; the answers
        (lists are joined) and the refusals."""
        if not work:
            return [], []
        results: list[Any] = []
        errors: list[StationError] = []
        with ThreadPoolExecutor(max_workers=min(8, len(work)),
                                thread_name_prefix="forward") as pool:
            futures = {sid: pool.submit(fn, sid) for sid, fn in work.items()}
            for sid, future in futures.items():
                try:
                    answer = future.result()
                except StationError as exc:
                    log.warning("forwarding to station %s: %s", self.site.name_of(sid), exc.message)
                    errors.append(exc)
                    continue
                results.extend(answer if isinstance(answer, list) else [answer])
        return results, errors


def _refusal(name: str, exc: urllib.error.HTTPError) -> StationError:
    try:
        detail = json.loads(exc.read() or b"{}").get("detail")
    except ValueError:
        detail = None
    if isinstance(detail, list) and detail:  # the 422 shape: [{"loc", "msg", "type"}]
        detail = detail[0].get("msg")
    message = f"station {name!r}: {detail or exc.reason}"
    if exc.code == 507:
        return StorageFull(message)
    if exc.code in (401, 403):
        return Unavailable(f"station {name!r} refused this station's token ({exc.code}): "
                           "every station of a site needs the same token")
    if exc.code >= 500:
        return Unavailable(message)
    return Conflict(message)
