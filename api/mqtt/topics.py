"""What the MQTT bus publishes where: topic names, JSON payloads and Home Assistant's
discovery configs, as pure functions of the station's state (no network, no catalog), so the
names are written in one place and docs/scale-out.md can list them as they are.

Everything lives under `recording-station/<station_id>/`:

    availability                  "online" / "offline" (retained; the Last Will says offline)
    station                       who this station is (retained)
    source/<source_id>/status     a source's status (retained)
    source/<source_id>/camera_lost  "ON" while a camera_lost event of the source is open
                                  (retained): Home Assistant's problem sensor
    source/<source_id>/motion     "ON" while the source has motion (a motion event open, and
                                  motion_off_delay_s after it closed; retained): Home
                                  Assistant's motion sensor
    group/<group_id>/state        "ON" while any source of the group records (retained)
    group/<group_id>/set          "ON" / "OFF": Home Assistant's switch (command; with a
                                  command secret only if mqtt_unsigned_switches)
    disk                          free/total space of the recordings' disk (retained)
    event                         every change of an event of app.alarms (opened, closed,
                                  acknowledged), one JSON message each (not retained)
    event/<kind>                  recording_started|stopped|failed|paused|resumed, storage_low
    command                       JSON commands (signed with a command secret: api.mqtt.commands)
    reply                         replies, and every refusal (never retained)
    reply/<anything>              replies to commands that asked for it (response topic or
                                  reply_to); nothing outside this station's topics

Home Assistant reads `homeassistant/<component>/<object_id>/config` (retained).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from app.events import RecordingPaused, RecordingStarted, RecordingStopped, StorageLow
from app.redaction import redact
from app.schemas import EventOut, GroupOut, SourceOut

ROOT = "recording-station"
DISCOVERY_PREFIX = "homeassistant"
ONLINE, OFFLINE = "online", "offline"
SWITCH_ON, SWITCH_OFF = "ON", "OFF"


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dumps(payload: dict) -> str:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


class Topics:
    """The topic names of one station."""

    def __init__(self, station_id: str) -> None:
        self.station_id = station_id
        self.base = f"{ROOT}/{station_id}"
        self.availability = f"{self.base}/availability"
        self.station = f"{self.base}/station"
        self.disk = f"{self.base}/disk"
        self.command = f"{self.base}/command"
        self.reply = f"{self.base}/reply"
        self.events = f"{self.base}/event"  # the event model's changes (app.alarms)
        self.group_set_filter = f"{self.base}/group/+/set"
        # Home Assistant object ids allow [A-Za-z0-9_-] only; a station id may carry dots.
        self.object_prefix = "rs_" + re.sub(r"[^A-Za-z0-9_-]", "_", station_id)

    def source_status(self, source_id: int) -> str:
        return f"{self.base}/source/{source_id}/status"

    def camera_lost(self, source_id: int) -> str:
        """ON / OFF: the state of the source's "camera lost" problem sensor."""
        return f"{self.base}/source/{source_id}/camera_lost"

    def motion(self, source_id: int) -> str:
        """ON / OFF: the state of the source's motion sensor."""
        return f"{self.base}/source/{source_id}/motion"

    def group_state(self, group_id: int) -> str:
        return f"{self.base}/group/{group_id}/state"

    def group_set(self, group_id: int) -> str:
        return f"{self.base}/group/{group_id}/set"

    def group_of_set_topic(self, topic: str) -> int | None:
        """The group id of a `group/<id>/set` topic; None for any other topic."""
        match = re.fullmatch(re.escape(self.base) + r"/group/(\d+)/set", topic)
        return int(match.group(1)) if match else None

    def event(self, kind: str) -> str:
        return f"{self.base}/event/{kind}"

    # --- Home Assistant discovery ------------------------------------------------------
    def group_switch_config(self, group_id: int) -> str:
        return f"{DISCOVERY_PREFIX}/switch/{self.object_prefix}_group_{group_id}/config"

    def group_sensor_config(self, group_id: int) -> str:
        """A group's state, read-only (switches off: commands must be signed)."""
        return f"{DISCOVERY_PREFIX}/binary_sensor/{self.object_prefix}_group_{group_id}/config"

    def source_sensor_config(self, source_id: int) -> str:
        return f"{DISCOVERY_PREFIX}/binary_sensor/{self.object_prefix}_source_{source_id}/config"

    def camera_lost_config(self, source_id: int) -> str:
        return (f"{DISCOVERY_PREFIX}/binary_sensor/{self.object_prefix}_source_{source_id}"
                "_camera_lost/config")

    def motion_config(self, source_id: int) -> str:
        return (f"{DISCOVERY_PREFIX}/binary_sensor/{self.object_prefix}_source_{source_id}"
                "_motion/config")

    def disk_sensor_config(self) -> str:
        return f"{DISCOVERY_PREFIX}/sensor/{self.object_prefix}_disk_free/config"


# --- state payloads ------------------------------------------------------------------------
def source_payload(source: SourceOut) -> dict:
    """A source's status; its URIs stay out (they may carry credentials even masked)."""
    return {"source_id": source.id, "name": source.name, "status": str(source.status),
            "online": source.status == "online", "error": source.error, "time_utc": now_utc()}


def disk_payload(*, free: int, total: int, floor: int) -> dict:
    """The recordings' disk; `below_floor`: new recordings are refused (docs/reliability.md)."""
    return {"free_bytes": free, "total_bytes": total, "floor_bytes": floor,
            "below_floor": floor > 0 and free < floor, "time_utc": now_utc()}


def station_payload(*, station_id: str, name: str, version: str, url: str | None) -> dict:
    return {"station_id": station_id, "name": name, "version": version, "url": url,
            "time_utc": now_utc()}


# --- events --------------------------------------------------------------------------------
def event_message(event) -> tuple[str, dict] | None:
    """(kind, payload) of a bus event the bus publishes; None for the others."""
    if isinstance(event, RecordingStarted):
        kind, extra = "recording_started", {}
    elif isinstance(event, RecordingStopped):
        kind = "recording_failed" if event.status == "failed" else "recording_stopped"
        extra = {"status": event.status}
    elif isinstance(event, RecordingPaused):
        kind, extra = ("recording_paused" if event.paused else "recording_resumed"), {}
    elif isinstance(event, StorageLow):
        return "storage_low", {"message": event.message, "record_ids": list(event.record_ids),
                               "free_bytes": event.free_bytes, "floor_bytes": event.floor_bytes,
                               "time_utc": now_utc()}
    else:
        return None
    return kind, {"record_id": event.record_id, "source_id": event.source_id,
                  "tag_name": event.tag_name, **extra, "origin": event.origin,
                  "time_utc": now_utc()}


def alarm_payload(event: EventOut, change: str, *, source_name: str | None) -> dict:
    """One change of an event of the event model (`app.alarms`): what an operator's tools
    need to show and follow it. Its `data` stays out (details of a kind, not for the bus) and
    its text is redacted once more: an event's text may quote what a camera or FFmpeg said."""
    return {"id": event.id, "kind": event.kind, "change": change,
            "source_id": event.source_id, "source_name": source_name,
            "station_id": event.station_id, "begin": event.begin, "end": event.end,
            "severity": event.severity.value, "text": redact(event.text),
            "caused_by": event.caused_by, "acknowledged_by": event.acknowledged_by,
            "acknowledged_at": event.acknowledged_at, "time_utc": now_utc()}


# --- Home Assistant discovery ----------------------------------------------------------------
def ha_device(*, station_id: str, name: str, version: str, url: str | None) -> dict:
    device = {"identifiers": [f"{ROOT}-{station_id}"], "name": name,
              "manufacturer": "Recording Station", "model": "Recording Station",
              "sw_version": version}
    if url:
        device["configuration_url"] = url
    return device


def discovery_configs(topics: Topics, device: dict, groups: list[GroupOut],
                      sources: list[SourceOut], switches: bool = True) -> dict[str, dict]:
    """Every discovery config of the station: {config topic: payload}. Without `switches`
    (the station takes signed commands only, and Home Assistant cannot sign) a group is a
    read-only sensor of its recording state instead of a switch."""
    common = {"availability_topic": topics.availability, "payload_available": ONLINE,
              "payload_not_available": OFFLINE, "device": device}
    prefix = topics.object_prefix
    configs = {topics.disk_sensor_config(): {
        **common, "name": "Free disk space", "unique_id": f"{prefix}_disk_free",
        "state_topic": topics.disk, "value_template": "{{ value_json.free_bytes }}",
        "device_class": "data_size", "state_class": "measurement", "unit_of_measurement": "B",
        "suggested_unit_of_measurement": "GB", "json_attributes_topic": topics.disk}}
    for group in groups:
        config = {
            **common, "name": f"Record {group.name}", "unique_id": f"{prefix}_group_{group.id}",
            "state_topic": topics.group_state(group.id),
            "payload_on": SWITCH_ON, "payload_off": SWITCH_OFF, "icon": "mdi:record-rec"}
        if switches:
            configs[topics.group_switch_config(group.id)] = {
                **config, "command_topic": topics.group_set(group.id)}
        else:
            configs[topics.group_sensor_config(group.id)] = {**config, "device_class": "running"}
    for source in sources:
        configs[topics.source_sensor_config(source.id)] = {
            **common, "name": source.name, "unique_id": f"{prefix}_source_{source.id}",
            "state_topic": topics.source_status(source.id), "device_class": "connectivity",
            "value_template": "{{ 'ON' if value_json.online else 'OFF' }}",
            "json_attributes_topic": topics.source_status(source.id)}
        configs[topics.camera_lost_config(source.id)] = {
            **common, "name": f"{source.name} camera lost",
            "unique_id": f"{prefix}_source_{source.id}_camera_lost",
            "state_topic": topics.camera_lost(source.id), "device_class": "problem",
            "payload_on": SWITCH_ON, "payload_off": SWITCH_OFF, "icon": "mdi:cctv-off"}
        configs[topics.motion_config(source.id)] = {
            **common, "name": f"{source.name} motion",
            "unique_id": f"{prefix}_source_{source.id}_motion",
            "state_topic": topics.motion(source.id), "device_class": "motion",
            "payload_on": SWITCH_ON, "payload_off": SWITCH_OFF}
    return configs
