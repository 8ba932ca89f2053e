"""Asking another station of the site to do what only it can: start or stop its own sources,
serve its own pictures and files.

A station records only the sources it owns (their video goes to its disk), so a start or a
stop that covers sources of other stations is forwarded to each owner's API (its `public_url`,
from the registry). The forwarded request carries `X-RS-Forwarded-By: <station id>`: the owner
then acts on its own sources only and never forwards again, so two stations can never bounce a
request between them.

Every request to another station goes through here (`open`), whoever makes it (forwarding,
the GUI's remote tiles and playback; the API's proxy signs through `signed`):
- it is signed for the station it is meant for (app.site.peer_auth), never the site token, and its
  answer must prove that station answered;
- the URL comes from the catalog, so it is checked (`scheme://host:port` only) and connected to
  through the outgoing-address policy (recorder.outgoing: the address checked at connect time,
  no redirect followed, no proxy from the environment).

Blocking HTTP (urllib) on the caller's thread: the services are called off the GUI thread
and off the API's event loop already. Several owners are asked side by side.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from app.errors import Conflict, StationError, StorageFull, Unavailable
from app.site import peer_auth
from app.site.stations import StationRegistry
from app.uri_policy import station_url
from recorder.outgoing import OutgoingPolicy

log = logging.getLogger(__name__)

FORWARDED_HEADER = "X-RS-Forwarded-By"
ANNOUNCE_WAIT_S = 5.0  # a station registers, then says its URL once its API listens
TIMEOUT_S = 15.0  # a start on the owner commits, opens files and answers: well under this


class Peers:
    """`token()`: the secret every station of the site shares (None: nothing is signed);
    `outgoing()`: the station's outgoing-address policy of the moment."""

    def __init__(self, site: StationRegistry, token: Callable[[], str | None],
                 outgoing: Callable[[], OutgoingPolicy], timeout_s: float = TIMEOUT_S):
        self.site, self.token, self.outgoing, self.timeout_s = site, token, outgoing, timeout_s
        self.verifier = peer_auth.Verifier()  # requests other stations sign for this one

    # --- asking ----------------------------------------------------------------------
    def signed(self, station_id: str, method: str, path_qs: str,
               body: bytes = b"") -> dict[str, str]:
        """The headers of one request to `station_id`: where it comes from and, with a
        token, its signature for that station alone (good once, for `WINDOW_S`)."""
        headers = {FORWARDED_HEADER: self.site.station_id}
        secret = self.token()
        if secret:
            headers.update(peer_auth.sign(secret, sender=self.site.station_id, target=station_id,
                                          method=method, path_qs=path_qs, body=body))
        return headers

    def proved(self, sent: Mapping[str, str], status: int, answer: Mapping[str, str]) -> bool:
        """The answer to a request sent with `sent` (from `signed`) comes from the station
        it was signed for (always true on a site without a token)."""
        secret = self.token()
        return not secret or peer_auth.NONCE not in sent or \
            peer_auth.answer_proved(secret, sent, status, answer)

    def base_url(self, station_id: str) -> str:
        """The owner's API address as `scheme://host:port`; `Unavailable` when it is offline,
        never said one, or said one a station does not use (app.uri_policy.station_url)."""
        reason = self.site.offline_reason(station_id, fresh=True)
        if reason is not None:
            raise Unavailable(reason)
        url = self.site.url_of(station_id)
        deadline = time.monotonic() + ANNOUNCE_WAIT_S
        while not url and time.monotonic() < deadline:  # registered, its API not up yet
            time.sleep(0.2)
            seen = self.site.reread(station_id)
            url = seen.url if seen is not None else None
        name = self.site.name_of(station_id)
        if not url:
            raise Unavailable(f"station {name!r} has no public_url")
        try:
            checked = station_url(url)
        except ValueError as exc:
            log.warning("station %r: its address in the catalog is refused: %s", name, exc)
            raise Unavailable(f"station {name!r} has an address stations do not use ({exc})") from None
        refusal = self.site.unreachable_from_here(checked)
        if refusal:
            raise Unavailable(f"station {name!r} cannot be reached at its address ({refusal})")
        return checked

    def open(self, station_id: str, method: str, path_qs: str, body: bytes | None = None,
             headers: Mapping[str, str] | None = None, timeout: float | None = None):
        """One request to another station: its open answer (an `http.client.HTTPResponse`)
        once that station proved it answered; `urllib.error.HTTPError` for its refusals
        (proved too), `Unavailable` when it is away, unreachable or not who it should be."""
        url = self.base_url(station_id) + path_qs
        sent = self.signed(station_id, method, path_qs, body or b"")
        request = urllib.request.Request(url, method=method, data=body,
                                         headers={**(headers or {}), **sent})
        name = self.site.name_of(station_id)
        try:
            response = self.outgoing().urlopen(request, timeout=timeout or self.timeout_s)
        except urllib.error.HTTPError as exc:
            if not self.proved(sent, exc.code, exc.headers):
                exc.close()
                raise self._impostor(name) from None
            raise
        except OSError as exc:  # refused by the policy, refused, reset, timed out
            raise Unavailable(f"station {name!r} did not answer: "
                              f"{getattr(exc, 'reason', None) or exc}") from None
        if not self.proved(sent, response.status, response.headers):
            response.close()
            raise self._impostor(name)
        return response

    def _impostor(self, name: str) -> Unavailable:
        log.warning("station %r: the answer from its address did not prove it is that station "
                    "(a catalog row pointing elsewhere, or another key)", name)
        return Unavailable(f"station {name!r} did not answer as itself (its address in the "
                           "catalog is not that station's, or it has another token)")

    def call(self, station_id: str, method: str, path: str, body: dict) -> Any:
        """One JSON request to another station; its refusal comes back as the same error
        this station would raise (404, 422 → Conflict, 507, 503)."""
        name = self.site.name_of(station_id)
        try:
            with self.open(station_id, method, path, json.dumps(body).encode(),
                           {"Content-Type": "application/json"}) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            raise _refusal(name, exc) from None
        except (OSError, ValueError) as exc:  # reset mid-answer, not JSON
            raise Unavailable(f"station {name!r} did not answer: "
                              f"{getattr(exc, 'reason', None) or exc}") from None

    # --- being asked -----------------------------------------------------------------
    def verify(self, method: str, path_qs: str, headers: Mapping[str, str]) -> tuple[str, str]:
        """(sender, nonce) of a request another station signed for this one; ValueError
        naming why not (no token here: nothing can be verified)."""
        secret = self.token()
        if not secret:
            raise ValueError("this station has no token to check station signatures with")
        return self.verifier.check(secret, self.site.station_id, method, path_qs, headers)

    def proof(self, nonce: str, status: int) -> str:
        """What this station's answer to a signed request carries (`X-RS-Proof`)."""
        return peer_auth.proof(self.token() or "", self.site.station_id, nonce, status)

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
        return Unavailable(f"station {name!r} refused this station's signature ({exc.code}): "
                           "every station of a site needs the same token")
    if exc.code >= 500:
        return Unavailable(message)
    return Conflict(message)
