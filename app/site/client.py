"""The site client: the one place that knows how to ask another station of the site.

Every request one station makes of another goes through `SiteClient`, whoever makes it
(forwarded starts and stops, remote live pictures, the GUI's playback, copies and exports of
another station's footage, the API's proxy), so three things are decided here and nowhere
else:

- **routes**: the native routes another station is asked on are the `Route`s of this module
  (`ROUTES`); nobody else spells `/api/v1/...` to reach a station, and a test walks every one of
  them against the real native router (tests/app/test_site_client_routes.py);
- **headers**: a request is signed for the station it is meant for (app.site.peer_auth), never
  the site token, and carries `X-RS-Forwarded-By` so the owner acts on its own sources only and
  never forwards again; its answer must prove that station gave it. The owner's address comes
  from the catalog, so it is checked (`scheme://host:port` only, app.uri_policy.station_url) and
  connected to through the outgoing-address policy (recorder.outgoing: checked at connect
  time, no redirect followed, no proxy from the environment);
- **refusals**: what the other station answers is mapped to the domain errors this station
  would raise itself (a 4xx → `Conflict` naming that station and its reason, 507 →
  `StorageFull`, 401/403, 5xx, a station away or not who it should be → `Unavailable`), so a
  caller never reads HTTP.

The receiving end of the same protocol (checking a signed request meant for this station,
proving the answer: `verify`, `proof`) lives here too: one client, both directions.

Blocking HTTP (urllib) on the caller's thread: the services are called off the GUI thread and
off the API's event loop already. The API's proxy streams with aiohttp on its loop instead; it
asks `relay` for the checked address and the signed headers, and `proved` about the answer.
"""

from __future__ import annotations

import contextvars
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from app.identity import acting_path
from app.errors import Conflict, StationError, StorageFull, Unavailable
from app.schemas import MotionOut, MotionSettingsIn, RecordOut, iso_utc
from app.site import peer_auth
from app.site.stations import StationRegistry
from app.uri_policy import station_url
from recorder.outgoing import OutgoingPolicy

log = logging.getLogger(__name__)

FORWARDED_HEADER = "X-RS-Forwarded-By"
ANNOUNCE_WAIT_S = 5.0  # a station registers, then says its URL once its API listens
TIMEOUT_S = 15.0  # a start on the owner commits, opens files and answers: well under this
STATUS_TIMEOUT_S = 5.0  # a question the owner answers from memory (a motion detector's state)


@dataclass(frozen=True)
class Route:
    """A native route another station is asked on: its method, its path with `{name}`
    parameters, the query parameters and body fields this client sends."""

    method: str
    path: str
    query: tuple[str, ...] = ()
    body: tuple[str, ...] = ()

    def path_qs(self, query: Mapping[str, Any] | None = None, **params: Any) -> str:
        """The path with its parameters filled in (each quoted whole: a value never adds a
        segment), and the query; a parameter the route does not take is a programming error."""
        unknown = set(query or ()) - set(self.query)
        if unknown:
            raise ValueError(f"{self.method} {self.path} takes no query {sorted(unknown)}")
        path = self.path.format(**{k: quote(str(v), safe="") for k, v in params.items()})
        return path + (f"?{urlencode(query, doseq=True)}" if query else "")  # lists: repeated


START_SOURCES = Route("POST", "/api/v1/record/sources", body=("tag_name", "source_ids"))
STOP_TAG = Route("PUT", "/api/v1/record", body=("tag_name", "model"))
SOURCE_PICTURE = Route("GET", "/api/v1/source/{source_id}/picture")
SOURCE_VIDEO = Route("GET", "/api/v1/source/{source_id}/video", query=("delay",))
RECORD_VIDEO = Route("GET", "/api/v1/record/{record_id}/video")
SOURCE_EXPORT = Route("GET", "/api/v1/source/{source_id}/export", query=("begin", "end"))
SOURCE_MOTION = Route("GET", "/api/v1/source/{source_id}/motion")
CHANGE_MOTION = Route("PUT", "/api/v1/source/{source_id}/motion",
                      body=tuple(MotionSettingsIn.model_fields))
# PTZ of a source's camera (app.ptz): the owner talks to the camera on its own network
PTZ_COMMAND = Route("POST", "/api/v1/source/{source_id}/ptz",
                    body=("action", "pan", "tilt", "zoom", "timeout_s", "preset", "name", "x", "y"))
PTZ_PRESETS = Route("GET", "/api/v1/source/{source_id}/ptz/presets")
# Motion search (app.motion_search): the owner answers with the minutes it has not stored yet
MOTION_SEARCH = Route("GET", "/api/v1/motion/search",
                      query=("source_id", "begin", "end", "region", "min_cells", "merge_s"))
MOTION_HEATMAP = Route("GET", "/api/v1/source/{source_id}/motion/heatmap", query=("begin", "end"))
# A sync to a far station (app.site.sync_targets: its own URL and token, not a site peer)
UPLOAD_STATE = Route("GET", "/api/v1/upload/{upload_id}")
UPLOAD_APPEND = Route("PUT", "/api/v1/upload/{upload_id}")
UPLOAD_FINISH = Route("POST", "/api/v1/upload/{upload_id}/finish",
                      body=("md5", "station", "tag_name", "file_name"))
ROUTES = (START_SOURCES, STOP_TAG, SOURCE_PICTURE, SOURCE_VIDEO, RECORD_VIDEO, SOURCE_EXPORT,
          SOURCE_MOTION, CHANGE_MOTION, PTZ_COMMAND, PTZ_PRESETS, MOTION_SEARCH, MOTION_HEATMAP,
          UPLOAD_STATE, UPLOAD_APPEND, UPLOAD_FINISH)


@dataclass(frozen=True)
class Relay:
    """What the API's proxy needs to stream a GET from another station itself: the checked
    address (`url`) and the signed headers (`sent`, to check the answer with `proved`)."""

    url: str
    sent: dict[str, str]


class SiteClient:
    """`token()`: the secret every station of the site shares (None: nothing is signed);
    `outgoing()`: the station's outgoing-address policy of the moment."""

    def __init__(self, site: StationRegistry, token: Callable[[], str | None],
                 outgoing: Callable[[], OutgoingPolicy], timeout_s: float = TIMEOUT_S):
        self.site, self.token, self.outgoing, self.timeout_s = site, token, outgoing, timeout_s
        self.verifier = peer_auth.Verifier()  # requests other stations sign for this one

    # --- what another station is asked --------------------------------------------------
    def start_sources(self, station_id: str, tag_name: str,
                      source_ids: list[int]) -> list[RecordOut]:
        """The owner starts its `source_ids` under `tag_name`: its records."""
        answer = self._call(station_id, START_SOURCES.path_qs(), START_SOURCES.method,
                            {"tag_name": tag_name, "source_ids": source_ids})
        return [RecordOut.model_validate(a) for a in answer]

    def stop_tag(self, station_id: str, tag_name: str, model: str | None) -> list[RecordOut]:
        """The station stops its records of `tag_name`: the records it finalized."""
        body = {"tag_name": tag_name, **({"model": model} if model else {})}
        answer = self._call(station_id, STOP_TAG.path_qs(), STOP_TAG.method, body)
        return [RecordOut.model_validate(a) for a in answer]

    def motion(self, station_id: str, source_id: int) -> MotionOut:
        """The owner's motion detector of a source: what it analyses now, its rate, level and
        settings (app.motion)."""
        return MotionOut.model_validate(self._call(
            station_id, SOURCE_MOTION.path_qs(source_id=source_id), SOURCE_MOTION.method, None,
            timeout=STATUS_TIMEOUT_S))

    def change_motion(self, station_id: str, source_id: int, changes: dict) -> MotionOut:
        """The owner stores and applies a partial change of a source's motion settings (the
        fields of `MotionSettingsIn`, already checked here): its detector's state after it."""
        return MotionOut.model_validate(self._call(
            station_id, CHANGE_MOTION.path_qs(source_id=source_id), CHANGE_MOTION.method,
            changes))

    def ptz(self, station_id: str, source_id: int, command: dict) -> dict:
        """The owner carries out a PTZ command on its source's camera (the fields of
        `app.ptz.schemas.PtzCommand`, checked here already): what it answered."""
        return self._call(station_id, PTZ_COMMAND.path_qs(source_id=source_id),
                          PTZ_COMMAND.method, command, timeout=STATUS_TIMEOUT_S)

    def ptz_presets(self, station_id: str, source_id: int) -> list[dict]:
        """The presets of the owner's source's camera, as the camera lists them."""
        return self._call(station_id, PTZ_PRESETS.path_qs(source_id=source_id),
                          PTZ_PRESETS.method, None, timeout=STATUS_TIMEOUT_S)

    def motion_search(self, station_id: str, query: Mapping[str, Any]) -> list[dict]:
        """The owner's motion search of its sources (`query`: MOTION_SEARCH's parameters,
        checked here already; lists repeated): its hits as JSON."""
        return self._call(station_id, MOTION_SEARCH.path_qs(query), MOTION_SEARCH.method,
                          None, timeout=TIMEOUT_S)["hits"]

    def motion_heatmap(self, station_id: str, source_id: int, begin: datetime,
                       end: datetime) -> dict:
        """The owner's heat map of its source over [begin, end), as JSON."""
        return self._call(station_id, MOTION_HEATMAP.path_qs(
            {"begin": iso_utc(begin), "end": iso_utc(end)}, source_id=source_id),
            MOTION_HEATMAP.method, None, timeout=TIMEOUT_S)

    def live_video(self, station_id: str, source_id: int, delay_s: float, timeout: float):
        """The owner's MJPEG of a source (an open answer; `Content-Type` names the boundary)."""
        return self._stream(station_id, SOURCE_VIDEO.path_qs({"delay": f"{delay_s:g}"},
                                                             source_id=source_id), timeout)

    def record_file(self, station_id: str, record_id: str, byte_range: str | None,
                    timeout: float):
        """A record's file as its owner serves it, from `byte_range` (`bytes=a-`, None: all):
        an open answer (206 with `Content-Range` for a range)."""
        return self._stream(station_id, RECORD_VIDEO.path_qs(record_id=record_id), timeout,
                            {"Range": byte_range} if byte_range else None)

    def record_file_url(self, station_id: str, record_id: str) -> str:
        """Where the owner serves a record's file (shown to the operator; `Unavailable`
        while the owner is away)."""
        return self.base_url(station_id) + RECORD_VIDEO.path_qs(record_id=record_id)

    def export(self, station_id: str, source_id: int, begin: datetime, end: datetime,
               timeout: float):
        """The owner cuts a range of its footage of a source: an open answer, the MP4."""
        return self._stream(station_id, SOURCE_EXPORT.path_qs(
            {"begin": iso_utc(begin), "end": iso_utc(end)}, source_id=source_id), timeout)

    def relay(self, station_id: str, route: Route, query: Mapping[str, Any] | None = None,
              **params: Any) -> Relay:
        """The address and signed headers of a GET the API's proxy streams itself (blocking:
        finding the owner may wait for it to announce its URL)."""
        path_qs = acting_path(route.path_qs(query, **params))
        return Relay(self.base_url(station_id) + path_qs,
                     self.signed(station_id, route.method, path_qs))

    # --- headers and answers -------------------------------------------------------------
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
            raise Unavailable(f"station {name!r} has an address stations do not use "
                              f"({exc})") from None
        refusal = self.site.unreachable_from_here(checked)
        if refusal:
            raise Unavailable(f"station {name!r} cannot be reached at its address ({refusal})")
        return checked

    def _open(self, station_id: str, method: str, path_qs: str, body: bytes | None = None,
              headers: Mapping[str, str] | None = None, timeout: float | None = None):
        """One request: its open answer (an `http.client.HTTPResponse`) once that station
        proved it answered; `urllib.error.HTTPError` for its refusals (proved too),
        `Unavailable` when it is away, unreachable or not who it should be."""
        path_qs = acting_path(path_qs)  # for whom (app.identity), under the signature
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

    def _stream(self, station_id: str, path_qs: str, timeout: float,
                headers: Mapping[str, str] | None = None):
        """A GET whose answer the caller reads as it comes; refusals as domain errors."""
        try:
            return self._open(station_id, "GET", path_qs, headers=headers, timeout=timeout)
        except urllib.error.HTTPError as exc:
            raise _refusal(self.site.name_of(station_id), exc) from None

    def _impostor(self, name: str) -> Unavailable:
        log.warning("station %r: the answer from its address did not prove it is that station "
                    "(a catalog row pointing elsewhere, or another key)", name)
        return Unavailable(f"station {name!r} did not answer as itself (its address in the "
                           "catalog is not that station's, or it has another token)")

    def _call(self, station_id: str, path_qs: str, method: str, body: dict | None,
              timeout: float | None = None) -> Any:
        """One JSON request (`body` None: none sent); its refusal comes back as the error this
        station would raise."""
        name = self.site.name_of(station_id)
        data = None if body is None else json.dumps(body).encode()
        headers = None if body is None else {"Content-Type": "application/json"}
        try:
            with self._open(station_id, method, path_qs, data, headers, timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            raise _refusal(name, exc) from None
        except (OSError, ValueError) as exc:  # reset mid-answer, not JSON
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
            futures = {sid: pool.submit(contextvars.copy_context().run, fn, sid)  # acting user
                       for sid, fn in work.items()}
            for sid, future in futures.items():
                try:
                    answer = future.result()
                except StationError as exc:
                    log.warning("forwarding to station %s: %s", self.site.name_of(sid), exc.message)
                    errors.append(exc)
                    continue
                results.extend(answer if isinstance(answer, list) else [answer])
        return results, errors

    # --- being asked ---------------------------------------------------------------------
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


def _refusal(name: str, exc: urllib.error.HTTPError) -> StationError:
    """Another station's refusal as the domain error this station would raise itself."""
    try:
        detail = json.loads(exc.read() or b"{}").get("detail")
    except (ValueError, AttributeError, OSError):
        detail = None
    if isinstance(detail, list) and detail:  # the 422 shape: [{"loc", "msg", "type"}]
        detail = detail[0].get("msg") if isinstance(detail[0], dict) else None
    message = f"station {name!r}: {detail or exc.reason}"
    if exc.code == 507:
        return StorageFull(message)
    if exc.code in (401, 403):
        return Unavailable(f"station {name!r} refused this station's signature ({exc.code}): "
                           "every station of a site needs the same token")
    if exc.code >= 500:
        return Unavailable(message)
    return Conflict(message)
