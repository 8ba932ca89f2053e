"""Commands taken from the MQTT bus, run with the service calls the native API uses, and
their replies in the API's shapes (`status` is the HTTP status the API would answer, the
rest its body: records, or `detail`), so a client of both reads one format.

Runs on the bridge's worker thread, never on paho's network thread: a stop hashes files.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.errors import Conflict, InvalidInput, NotFound, StationError, StorageFull
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


def error_reply(exc: Exception) -> dict:
    """The native API's answer to the exception (api/errors.py native_error): its status
    and body."""
    if isinstance(exc, NotFound):
        return {"status": 404, "detail": exc.message}
    if isinstance(exc, StorageFull):
        return {"status": 507, "detail": exc.message}
    if isinstance(exc, (InvalidInput, Conflict)):
        where = "path" if exc.field and exc.field.endswith("_id") else "body"
        return {"status": 422, "detail": [{"loc": [where, exc.field or "__root__"],
                                           "msg": exc.message, "type": exc.kind}]}
    if isinstance(exc, StationError):
        return {"status": 422, "detail": [{"loc": ["body"], "msg": exc.message, "type": exc.kind}]}
    if isinstance(exc, ValidationError):
        return {"status": 422, "detail": [
            {"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]}
            for e in exc.errors(include_url=False, include_context=False, include_input=False)]}
    log.exception("MQTT command failed", exc_info=exc)
    return {"status": 500, "detail": "internal error"}


def parse_command(payload: bytes) -> MqttCommand | dict:
    """The command, or the error reply of a payload that is none (bad JSON, bad fields)."""
    try:
        data = json.loads(payload or b"null")
    except (ValueError, UnicodeDecodeError) as exc:
        return {"status": 422, "detail": [{"loc": ["body"], "msg": f"JSON decode error: {exc}",
                                           "type": "json_invalid"}]}
    if not isinstance(data, dict):
        return {"status": 422, "detail": [{"loc": ["body"], "msg": "a JSON object is required",
                                           "type": "dict_type"}]}
    try:
        return MqttCommand.model_validate(data)
    except ValidationError as exc:
        reply = error_reply(exc)
        if isinstance(data.get("request_id"), str):
            reply["request_id"] = data["request_id"]
        return reply


def run_command(station: "Station", command: MqttCommand) -> dict:
    """Start or stop the tag; the reply (without its request id)."""
    recordings = station.recordings
    try:
        if command.action == "start":
            if not command.group_name:
                raise InvalidInput("a group name is required to start", field="group_name")
            records = recordings.start(command.tag_name, command.group_name, command.model,
                                       origin=ORIGIN)
        else:
            records = recordings.stop(command.tag_name, command.model, origin=ORIGIN)
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
