"""Commands taken from the MQTT bus, run with the service calls the native API uses, and
their replies in the API's shapes (`status` is the HTTP status the API would answer, the
rest its body: records, or `detail`), so a client of both reads one format.

Runs on the bridge's worker thread, never on paho's network thread: a stop hashes files.

Who may command (issue #21 item 6). Anyone who can publish on the broker reaches the command
topic, and a broker's anonymous or shared users are common. So with a command secret
(`mqtt_command_secret`, else the station `token`) a command must be signed
(`check_signature`): a `hmac` field, the hex HMAC-SHA256 keyed by the secret of the command's
canonical JSON without that field (keys sorted, `,` and `:` without spaces, UTF-8), with
`ts` (integer seconds since 1970, within `SIGNATURE_WINDOW_S` of the station's clock) and a
`nonce` used once in that window, so a command seen on the bus cannot be played again. The
secret itself never travels. Replies go only under the station's own `reply` topic
(`reply_topic`): a command cannot make the station publish where others read (Home
Assistant's config topics, another station's state).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
import time
from collections import OrderedDict
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.errors import native_answer
from app.errors import InvalidInput
from app.schemas import SourceModel

if TYPE_CHECKING:
    from app.station import Station

log = logging.getLogger(__name__)

ORIGIN = "mqtt"


class MqttCommand(BaseModel):
    """`recording-station/<station_id>/command`: {"action": "start", "tag_name": "t1",
    "group_name": "lobby"}; "stop" needs only the tag."""

    model_config = ConfigDict(extra="ignore")
    action: str = Field(pattern="^(start|stop)$")
    tag_name: str = Field(min_length=1, max_length=255)
    group_name: str | None = Field(None, min_length=1, max_length=255)
    model: SourceModel | None = None
    request_id: str | None = Field(None, max_length=255)
    reply_to: str | None = Field(None, min_length=1, max_length=1024)


SIGNATURE_WINDOW_S = 60  # a signed command's `ts` may be this far from the station's clock
NONCE = re.compile(r"[A-Za-z0-9_-]{8,64}")
MAX_NONCES = 10_000  # nonces remembered (only signed commands add one)
LOG_EVERY_S = 60.0  # a kind of refusal is logged (and audited) at most once per interval


def canonical(data: dict) -> bytes:
    """What a signature covers: the command without its `hmac`, as canonical JSON."""
    body = {k: v for k, v in data.items() if k != "hmac"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(data: dict, secret: str) -> str:
    """The `hmac` of a command (clients compute the same; the tests sign with it)."""
    return hmac.new(secret.encode(), canonical(data), hashlib.sha256).hexdigest()


class Nonces:
    """Nonces of accepted signed commands, each kept for the signature window."""

    def __init__(self, window_s: float = SIGNATURE_WINDOW_S, limit: int = MAX_NONCES):
        self.window_s, self.limit = window_s, limit
        self._seen: OrderedDict[str, float] = OrderedDict()

    def first_use(self, nonce: str, now: float) -> bool:
        while self._seen and next(iter(self._seen.values())) < now - 2 * self.window_s:
            self._seen.popitem(last=False)  # older than any `ts` the window still takes
        if nonce in self._seen:
            return False
        if len(self._seen) >= self.limit:
            self._seen.popitem(last=False)
        self._seen[nonce] = now
        return True


def check_signature(data: dict, secret: str, nonces: Nonces, now: float | None = None
                    ) -> str | None:
    """None when `data` is signed with `secret`, fresh and not seen before; else why not
    (said to the sender: it names no secret). The HMAC is checked first, so unsigned
    messages never fill the nonce memory."""
    now = time.time() if now is None else now
    given = data.get("hmac")
    if not isinstance(given, str) or not given:
        return "this station takes signed commands only: add ts, nonce and hmac (docs/scale-out.md)"
    if not hmac.compare_digest(given.lower().encode(), sign(data, secret).encode()):
        return "the signature (hmac) does not match"
    ts = data.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int) or abs(now - ts) > SIGNATURE_WINDOW_S:
        return f"ts must be the time of sending, integer seconds since 1970 (within {SIGNATURE_WINDOW_S} s)"
    nonce = data.get("nonce")
    if not isinstance(nonce, str) or not NONCE.fullmatch(nonce):
        return "nonce must be 8 to 64 characters of A-Z, a-z, 0-9, _ and -"
    if not nonces.first_use(nonce, now):
        return "this nonce was used already (a replayed command)"
    return None


def reply_topic(base: str, requested: str | None) -> str | None:
    """The topic a reply goes to: `<base>/reply`, or the one asked for when it is under it
    (`<base>/reply/<anything>` without wildcards); None when the one asked for is not."""
    default = f"{base}/reply"
    if requested is None:
        return default
    if (requested == default or requested.startswith(default + "/")) \
            and not any(c in requested for c in "+#\x00") and len(requested) <= 1024:
        return requested
    return None


class LogLimiter:
    """At most one log line per kind of message per interval; the next one says how many
    were left out meanwhile. Messages the network sends must not write the log at their rate."""

    def __init__(self, every_s: float = LOG_EVERY_S):
        self.every_s = every_s
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def allow(self, kind: str) -> int | None:
        """None: leave this one out; else log it (the count of those left out before)."""
        now = time.monotonic()
        with self._lock:
            last = self._last.get(kind)
            if last is not None and now - last < self.every_s:
                self._skipped[kind] = self._skipped.get(kind, 0) + 1
                return None
            self._last[kind] = now
            return self._skipped.pop(kind, 0)


_failures = LogLimiter()


def error_reply(exc: Exception) -> dict:
    """The native API's answer to the exception (`api.errors.native_answer`, the one
    translator): its status and body."""
    answer = native_answer(exc)
    if answer is not None:
        status, detail = answer
        return {"status": status, "detail": detail}
    left_out = _failures.allow("failed")
    if left_out is not None:  # a traceback at most once per interval (the catalog away...)
        log.error("MQTT command failed (%d more since the last line)", left_out, exc_info=exc)
    return {"status": 500, "detail": "internal error"}


def parse_json(payload: bytes) -> tuple[dict | None, dict | None]:
    """(the message as a JSON object, None), or (None, the error reply) of one that is none."""
    try:
        data = json.loads(payload or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        return None, {"status": 422, "detail": [{"loc": ["body"], "type": "json_invalid",
                                                 "msg": f"JSON decode error: {exc}"}]}
    if not isinstance(data, dict):
        return None, {"status": 422, "detail": [{"loc": ["body"], "type": "dict_type",
                                                 "msg": "a JSON object is required"}]}
    return data, None


def parse_command(data: dict) -> MqttCommand | dict:
    """The command, or the error reply of an object that is none (bad fields)."""
    try:
        return MqttCommand.model_validate(data)
    except ValidationError as exc:
        reply = error_reply(exc)
        if isinstance(data.get("request_id"), str):
            reply["request_id"] = data["request_id"]
        return reply


def run_command(station: "Station", command: MqttCommand,
                sources: frozenset[int] | None = None) -> dict:
    """Start or stop the tag; the reply (without its request id). `sources`: the MQTT user's
    scope (a stop stops only those sources' records)."""
    recordings = station.recordings
    try:
        if command.action == "start":
            if not command.group_name:
                raise InvalidInput("a group name is required to start", field="group_name")
            records = recordings.start(command.tag_name, command.group_name, command.model,
                                       origin=ORIGIN)
        else:
            records = recordings.stop(command.tag_name, command.model, origin=ORIGIN,
                                      sources=sources)
    except Exception as exc:  # noqa: BLE001 - every failure is answered, as the API does
        return {"action": command.action, **error_reply(exc)}
    return {"action": command.action, "status": 200,
            "records": [r.model_dump(mode="json") for r in records]}


def switch_group(station: "Station", group_id: int, on: bool) -> None:
    """Home Assistant's switch of a group on this station's device: ON starts the group's
    sources this station owns under a new tag (`<group>-<local time>`), OFF stops the group's
    running records on this station (only them: the tag may hold sources of other groups).
    In a site each station's device switches its own part of the group."""
    group = station.groups.get(group_id)
    members = {s.id for s in group.sources}
    running = [r for r in station.recordings.own_running()
               if r.source is not None and r.source.id in members]
    if on and not running:  # a switch already on stays as it is (Home Assistant repeats)
        tag = f"{group.name}-{datetime.now():%Y%m%d-%H%M%S}"
        station.recordings.start(tag, group.name, origin=ORIGIN, forwarded=True)
    elif not on:
        for record in running:
            station.recordings.stop_record(record.id, origin=ORIGIN)
