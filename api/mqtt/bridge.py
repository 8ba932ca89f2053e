"""The MQTT bus (issue #15 item 5): the station's state and events published to a broker as
JSON, commands taken from it, and Home Assistant's discovery (topics: api.mqtt.topics,
docs/scale-out.md).

Three threads, so that a broker that is down or slow never slows recording:
- the event bus calls `_on_event` on the publisher's thread (often a recorder thread): it only
  appends to a bounded queue (the oldest item is dropped when it is full) and wakes the worker;
- paho's own network thread (`loop_start`) connects, reconnects by itself and hands what
  arrives (connected, a command) to the same queue;
- the worker thread reads the catalog, runs commands and publishes (paho's `publish` only
  queues the bytes for the network thread; it never waits for the broker).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from api.mqtt.commands import (
    LogLimiter,
    Nonces,
    check_signature,
    parse_command,
    parse_json,
    reply_topic,
    run_command,
    switch_group,
)
from api.mqtt.topics import (
    OFFLINE,
    ONLINE,
    SWITCH_OFF,
    SWITCH_ON,
    Topics,
    alarm_payload,
    discovery_configs,
    disk_payload,
    dumps,
    event_message,
    ha_device,
    source_payload,
    station_payload,
)
from app.audited import AuditedStation
from app.catalog import CATALOG_ERRORS
from app.errors import NotFound
from app.events import (
    CatalogChanged,
    Event,
    EventChanged,
    MotionChanged,
    SourceStatusChanged,
    StorageLow,
)
from api.mqtt.acting import command_user, user_refusal
from app.identity import acting_as
from app.services.audit import action_name

if TYPE_CHECKING:
    from app.station import Station

log = logging.getLogger(__name__)

QUEUE_MAX = 2000  # items waiting for the worker; beyond, the oldest is dropped
DISK_EVERY_S = 30.0
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 15
KEEPALIVE_S = 30
_CONNECTED = ("connected",)  # a queue item: (re)publish every state
# What a refused message asked, in the audit trail's vocabulary (checked at import).
RECORDING_ACTIONS = {"start": action_name("start recording"),
                     "stop": action_name("stop recording")}
SWITCH_GROUP = action_name("switch group")
REFUSED_COMMAND = action_name("command")  # one refused before it could be named
# Catalog changes the bus shows nothing of (a wall layout): no discovery or state to refresh.
NOT_PUBLISHED = frozenset({"layout"})


def broker_address(url: str) -> tuple[str, int, bool, str | None, str | None]:
    """(host, port, tls, user, password) of `mqtt://user:pass@host:1883` / `mqtts://…`."""
    parts = urlsplit(url)
    tls = parts.scheme == "mqtts"
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    return parts.hostname or "localhost", parts.port or (8883 if tls else 1883), tls, user, password


def coalesced(items: list[tuple]) -> list[tuple]:
    """The batch without what a later item makes stale: a source's status changes but the
    last (a flapping camera, a storm while the broker was away) and the catalog changes
    (handled once per batch by the worker)."""
    last_status = {item[1].source_id: index for index, item in enumerate(items)
                   if item[0] == "event" and isinstance(item[1], SourceStatusChanged)}
    kept = []
    for index, item in enumerate(items):
        event = item[1] if item[0] == "event" else None
        if isinstance(event, CatalogChanged):
            continue
        if isinstance(event, SourceStatusChanged) and last_status[event.source_id] != index:
            continue
        kept.append(item)
    return kept


class MqttBridge:
    def __init__(self, station: "Station") -> None:
        self.station = station
        self.topics = Topics(station.station_id)
        host, port, tls, user, password = broker_address(station.settings.mqtt_url or "")
        self._where = f"{'mqtts' if tls else 'mqtt'}://{host}:{port}"  # no credentials: for logs
        self._host, self._port = host, port
        self._nonces = Nonces()  # of signed commands taken (the worker's alone)
        self._limiter = LogLimiter()  # refusals and failures: a log line per kind and interval
        self._queue: collections.deque = collections.deque(maxlen=QUEUE_MAX)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._dropped = 0
        self._connected = False
        self._refused: str | None = None  # the last refusal logged (logged once, not per retry)
        self._discovery: dict[str, str] = {}  # config topic → payload published
        self._sources: set[int] = set()  # this station's sources, as last published
        self._names: dict[int, str] = {}  # their names, for the events' `source_name`
        self._camera_states: dict[int, str] = {}  # source id → its camera_lost state published
        self._motion_states: dict[int, str] = {}  # source id → its motion state published
        self._motion_off_at: dict[int, float] = {}  # source id → when its OFF is due (monotonic)
        self._groups: dict[int, set[int]] = {}  # group id → its source ids
        self._group_states: dict[int, str] = {}
        self._unsubscribe = None
        self._worker: threading.Thread | None = None
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"recording-station-{station.station_id}",
                                  protocol=mqtt.MQTTv5)
        if user is not None:
            self.client.username_pw_set(user, password)
        if tls:
            self.client.tls_set()  # the system's CAs
        self.client.will_set(self.topics.availability, OFFLINE, qos=1, retain=True)
        self.client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        self.client.max_queued_messages_set(QUEUE_MAX)  # events kept while the broker is away
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_message = self._on_message

    @property
    def connected(self) -> bool:
        """Connected to the broker and accepted by it (the metrics' MQTT state)."""
        return self._connected

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background (paho retries by itself); returns at once."""
        self._unsubscribe = self.station.bus.subscribe(self._on_event)
        self._worker = threading.Thread(target=self._work, name="mqtt-bridge", daemon=True)
        self._worker.start()
        self.client.connect_async(self._host, self._port, keepalive=KEEPALIVE_S)
        self.client.loop_start()
        log.info("MQTT: connecting to %s as station %s", self._where, self.station.station_id)

    def stop(self, timeout: float = 5.0) -> None:
        """Say offline (retained; else the Last Will would say it), then disconnect."""
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._stopping.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(timeout)
        if self._connected:
            info = self.client.publish(self.topics.availability, OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2.0)
            except RuntimeError:  # the connection went meanwhile: the Last Will says it
                pass
        self._connected = False  # before: a disconnection asked for is no loss to report
        self.client.disconnect()
        self.client.loop_stop()

    # --- paho's network thread: hand over, never wait -----------------------------------------
    def _on_connect(self, client, _userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            if self._refused != str(reason_code):
                self._refused = str(reason_code)
                log.warning("MQTT: %s refused the connection: %s", self._where, reason_code)
            return
        self._refused = None
        self._connected = True
        log.info("MQTT: connected to %s", self._where)
        client.subscribe([(self.topics.command, 1), (self.topics.group_set_filter, 1)])
        self._put(_CONNECTED)

    def _on_connect_fail(self, client, _userdata) -> None:
        """No connection at all (paho keeps no reason): logged once until one succeeds."""
        if self._refused != "unreachable":
            self._refused = "unreachable"
            log.warning("MQTT: cannot connect to %s (unreachable, or its TLS certificate is not "
                        "trusted); retrying", self._where)

    def _on_disconnect(self, client, _userdata, flags, reason_code, properties) -> None:
        if self._connected:
            log.warning("MQTT: lost %s (%s); reconnecting", self._where, reason_code)
        self._connected = False

    def _on_message(self, client, _userdata, message) -> None:
        self._put(("message", message))

    # --- the event bus: on the publisher's thread (a recorder's): never block ---------------
    def _on_event(self, event: Event) -> None:
        self._put(("event", event))

    def _put(self, item: tuple) -> None:
        if len(self._queue) == QUEUE_MAX:
            self._dropped += 1  # the deque drops the oldest itself
        self._queue.append(item)
        self._wake.set()

    # --- the worker ---------------------------------------------------------------------------
    def _work(self) -> None:
        next_disk = time.monotonic() + DISK_EVERY_S
        while not self._stopping.is_set():
            due = min([next_disk, *self._motion_off_at.values()])
            self._wake.wait(max(0.0, due - time.monotonic()))
            self._wake.clear()
            items = []
            while self._queue:
                items.append(self._queue.popleft())
            if self._dropped:
                log.warning("MQTT: %d item(s) dropped, the queue was full", self._dropped)
                self._dropped = 0
            events = [item[1] for item in items if item[0] == "event"]
            for item in coalesced(items):
                self._guarded(self._handle, item)
            if any(isinstance(event, CatalogChanged) and event.entity not in NOT_PUBLISHED
                   for event in events):
                self._guarded(self._refresh_catalog)  # once for a burst of changes
            if self._motion_off_at:
                self._guarded(self._publish_motion_offs)
            if time.monotonic() >= next_disk or any(isinstance(e, StorageLow) for e in events):
                next_disk = time.monotonic() + DISK_EVERY_S
                self._guarded(self._publish_disk)

    def _guarded(self, function, *args) -> None:
        """One failure (the catalog away) never ends the worker, nor floods the log: a
        traceback per kind at most once per interval."""
        try:
            function(*args)
        except Exception:  # noqa: BLE001
            name = getattr(function, "__name__", str(function))
            left_out = self._limiter.allow(f"failed {name}")
            if left_out is not None:
                log.exception("MQTT: %s failed (%d more since the last line)", name, left_out)

    def _handle(self, item: tuple) -> None:
        if item is _CONNECTED:
            self._publish_all()
        elif item[0] == "message":
            self._take_message(item[1])
        else:
            self._publish_event(item[1])

    def _publish(self, topic: str, payload, *, retain: bool) -> None:
        """State (retained) only while connected: `_publish_all` sends it again on connect.
        Events are queued by paho (up to QUEUE_MAX) and sent once the broker is back."""
        if retain and not self._connected:
            return
        if isinstance(payload, dict):
            payload = dumps(payload)
        self.client.publish(topic, payload, qos=1, retain=retain)

    # --- state --------------------------------------------------------------------------------
    def _publish_all(self) -> None:
        """On every (re)connection: who and where the station is, its discovery, every
        source, every group, the disk; then `online`."""
        station = self.station
        self._publish(self.topics.station, station_payload(
            station_id=station.station_id, name=station.name, version=station.version,
            url=station.settings.public_url), retain=True)
        self._discovery.clear()
        self._group_states.clear()
        self._camera_states.clear()  # a restarted broker may have forgotten them
        self._motion_states.clear()
        self._refresh_catalog()
        for source in self._own_sources():
            self._publish(self.topics.source_status(source.id), source_payload(source), retain=True)
        self._publish_disk()
        self._publish(self.topics.availability, ONLINE, retain=True)

    def _own_sources(self):
        mine = (None, self.station.station_id)
        return [s for s in self.station.sources.list() if s.station in mine]

    def _refresh_catalog(self) -> None:
        """Sources or groups changed: discovery configs that changed are published again,
        those of removed entities and their state topics are emptied (Home Assistant
        removes an entity whose config is empty)."""
        station = self.station
        sources = self._own_sources()
        groups = station.groups.list()
        self._groups = {g.id: {s.id for s in station.groups.get(g.id).sources} for g in groups}
        device = ha_device(station_id=station.station_id, name=station.name,
                           version=station.version, url=station.settings.public_url)
        configs = {topic: dumps(config) for topic, config in
                   discovery_configs(self.topics, device, groups, sources,
                                     switches=self._switches_taken()).items()}
        for topic in set(self._discovery) - set(configs):
            self._publish(topic, "", retain=True)
        for topic, payload in configs.items():
            if self._discovery.get(topic) != payload:
                self._publish(topic, payload, retain=True)
        self._discovery = configs if self._connected else {}
        now_sources = {s.id for s in sources}
        for source_id in self._sources - now_sources:
            self._publish(self.topics.source_status(source_id), "", retain=True)
            self._publish(self.topics.camera_lost(source_id), "", retain=True)
            self._publish(self.topics.motion(source_id), "", retain=True)
            self._camera_states.pop(source_id, None)
            self._motion_states.pop(source_id, None)
            self._motion_off_at.pop(source_id, None)
        for source in sources:
            if source.id not in self._sources:
                self._publish(self.topics.source_status(source.id), source_payload(source),
                              retain=True)
        self._sources = now_sources
        self._names = {s.id: s.name for s in sources}
        self._publish_camera_states()
        self._publish_motion_states()
        for group_id in set(self._group_states) - set(self._groups):
            self._publish(self.topics.group_state(group_id), "", retain=True)
            del self._group_states[group_id]
        self._publish_group_states()

    def _publish_group_states(self, source_id: int | None = None) -> None:
        """ON while a source of the group records on this station (only the groups of
        `source_id`, if given); a state is published when it changes."""
        running = {r.source.id for r in self.station.recordings.own_running() if r.source}
        for group_id, members in self._groups.items():
            if source_id is not None and source_id not in members:
                continue
            state = SWITCH_ON if members & running else SWITCH_OFF
            if self._group_states.get(group_id) != state and self._connected:
                self._group_states[group_id] = state
                self._publish(self.topics.group_state(group_id), state, retain=True)

    def _publish_camera_states(self, source_id: int | None = None) -> None:
        """Each source's problem sensor (only `source_id`'s, if given): ON while this
        station has a `camera_lost` event of it open, read from the catalog (so a restart, a
        reconnection or an event closed by another path always ends in the catalog's truth);
        a state is published when it changes."""
        wanted = self._sources if source_id is None else self._sources & {source_id}
        if not wanted or not self._connected:
            return
        open_events = self.station.events.list(source_id=source_id, kind="camera_lost",
                                               open=True, limit=1000)
        lost = {e.source_id for e in open_events if e.station_id == self.station.station_id}
        for sid in wanted:
            state = SWITCH_ON if sid in lost else SWITCH_OFF
            if self._camera_states.get(sid) != state:
                self._camera_states[sid] = state
                self._publish(self.topics.camera_lost(sid), state, retain=True)

    def _publish_motion_states(self) -> None:
        """Each source's motion sensor as the motion service says now (at every catalog
        change and (re)connection; an OFF still delayed stays ON); published when it changes.
        Between those, `MotionChanged` moves it (`_take_motion`)."""
        if not self._sources or not self._connected:
            return
        motion = self.station.motion
        for sid in self._sources:
            active = sid in self._motion_off_at or motion.active(sid)
            self._set_motion(sid, SWITCH_ON if active else SWITCH_OFF)

    def _set_motion(self, source_id: int, state: str) -> None:
        if self._motion_states.get(source_id) != state and self._connected:
            self._motion_states[source_id] = state
            self._publish(self.topics.motion(source_id), state, retain=True)

    def _take_motion(self, event: MotionChanged) -> None:
        """ON at once; OFF `motion_off_delay_s` after the event closed (read per change: a
        settings change applies), unless motion comes back first."""
        sid = event.source_id
        if sid not in self._sources:
            return
        if event.active:
            self._motion_off_at.pop(sid, None)
            self._set_motion(sid, SWITCH_ON)
            return
        delay = self.station.settings.motion_off_delay_s
        if delay > 0 and self._motion_states.get(sid) == SWITCH_ON:
            self._motion_off_at[sid] = time.monotonic() + delay
        else:
            self._motion_off_at.pop(sid, None)
            self._set_motion(sid, SWITCH_OFF)

    def _publish_motion_offs(self) -> None:
        """The delayed OFFs that are due."""
        now = time.monotonic()
        for sid, at in list(self._motion_off_at.items()):
            if at <= now:
                del self._motion_off_at[sid]
                self._set_motion(sid, SWITCH_OFF)

    def _publish_disk(self) -> None:
        storage = self.station.storage
        disk = storage.figures()[0]  # the guard's last look: no catalog, no waiting
        self._publish(self.topics.disk, disk_payload(free=disk.free, total=disk.total,
                                                     floor=storage.floor_bytes), retain=True)

    # --- events -------------------------------------------------------------------------------
    def _publish_event(self, event: Event) -> None:
        if isinstance(event, EventChanged):
            self._publish_alarm(event)
            return
        if isinstance(event, MotionChanged):
            self._take_motion(event)
            return
        if isinstance(event, SourceStatusChanged):
            if event.source_id in self._sources:
                try:
                    source = self.station.sources.get(event.source_id)
                except NotFound:
                    return  # deleted meanwhile: its CatalogChanged empties the topic
                self._publish(self.topics.source_status(source.id), source_payload(source),
                              retain=True)
            return
        message = event_message(event)
        if message is None:
            return
        kind, payload = message
        self._publish(self.topics.event(kind), payload, retain=False)
        if kind in ("recording_started", "recording_stopped", "recording_failed"):
            self._publish_group_states(event.source_id)

    def _publish_alarm(self, changed: EventChanged) -> None:
        """One message per change of an event on `event` (never retained); a camera_lost
        opened or closed also moves its source's problem sensor."""
        event = changed.event
        name = self._source_name(event.source_id) if event.source_id is not None else None
        self._publish(self.topics.events, alarm_payload(event, changed.change, source_name=name),
                      retain=False)
        if event.kind == "camera_lost" and changed.change != "acknowledged" \
                and event.source_id is not None:
            self._publish_camera_states(event.source_id)

    def _source_name(self, source_id: int) -> str | None:
        """The source's name: this station's from memory, another's from the catalog; None
        when it is gone or the catalog cannot say now (the event is published all the same)."""
        if source_id in self._names:
            return self._names[source_id]
        try:
            return self.station.sources.get(source_id).name
        except (NotFound, *CATALOG_ERRORS):
            return None

    # --- commands -----------------------------------------------------------------------------
    def _secret(self) -> str | None:
        """What commands must be signed with (read per message: a settings change applies)."""
        settings = self.station.settings
        return settings.mqtt_command_secret or settings.token or None

    def _switches_taken(self) -> bool:
        return not self._secret() or self.station.settings.mqtt_unsigned_switches

    def _refuse(self, kind: str, message: str, action: str, target: str | None) -> None:
        """A refusal, logged (without a traceback) and audited at most once per interval."""
        left_out = self._limiter.allow(kind)
        if left_out is None:
            return
        log.warning("MQTT: %s (%d more since the last line)", message, left_out)
        self.station.audit.record(dialect="mqtt", address=f"{self._host}:{self._port}",
                                  who="anonymous", action=action, target=target,
                                  result=kind)

    def _take_message(self, message) -> None:
        if getattr(message, "retain", False):  # a retained command would run at every reconnect
            self._refuse("retained", "a retained command or switch message ignored",
                         REFUSED_COMMAND, None)
            return
        group_id = self.topics.group_of_set_topic(message.topic)
        if group_id is not None:
            self._take_switch(message, group_id)
        elif message.topic == self.topics.command:
            self._take_command(message)

    def _take_switch(self, message, group_id: int) -> None:
        """Home Assistant's switch: ON / OFF, unsigned by nature (its payloads are in its
        retained config), so taken only without a command secret or when the operator said
        so (`mqtt_unsigned_switches`)."""
        value = message.payload.decode("utf-8", "replace").strip().upper()
        if value not in (SWITCH_ON, SWITCH_OFF):
            return
        if not self._switches_taken():
            self._refuse("unsigned switch", "a group switch refused: this station takes "
                         "signed commands only (mqtt_unsigned_switches is off)",
                         SWITCH_GROUP, f"group {group_id}")
            self._send(self.topics.reply, {"group_id": group_id, "status": 403, "detail":
                       "group switches are off: this station takes signed commands only"})
            return
        user = command_user(self.station)
        refused = user_refusal(self.station, user, SWITCH_GROUP, group_id=group_id)
        if refused is not None:
            self._refuse("no user" if user is None else "forbidden", f"a group switch refused: "
                         f"{refused[1]}", SWITCH_GROUP, f"group {group_id}")
            self._send(self.topics.reply, {"group_id": group_id, "status": refused[0],
                                           "detail": refused[1]})
            return
        log.info("MQTT: switch of group %d set %s", group_id, value)
        try:
            with acting_as(user):
                switch_group(self._as(user, "home assistant switch"), group_id,
                             value == SWITCH_ON)
        except NotFound as exc:  # an id that is no group of this station: no traceback
            self._refuse("unknown group", f"a switch for an unknown group: {exc.message}",
                         SWITCH_GROUP, f"group {group_id}")
            self._send(self.topics.reply, {"group_id": group_id, "status": 404,
                                           "detail": exc.message})

    def _take_command(self, message) -> None:
        request = getattr(message, "properties", None)
        data, refusal = parse_json(message.payload)
        request_id = data.get("request_id") if data is not None else None
        request_id = request_id if isinstance(request_id, str) else None
        secret = self._secret()
        if refusal is None and secret:
            reason = check_signature(data, secret, self._nonces)
            if reason is not None:
                action = data.get("action")  # any JSON: a list is no dict key
                self._refuse("unsigned command", f"a command refused: {reason}",
                             RECORDING_ACTIONS[action] if action in ("start", "stop")
                             else REFUSED_COMMAND, None)
                refusal = {"status": 401, "detail": reason}
        command = parse_command(data) if refusal is None else refusal
        if isinstance(command, dict):  # refused, or no command: to this station's own topic
            self._send(self.topics.reply, {"request_id": request_id, **command})
            return
        asked = getattr(request, "ResponseTopic", None) or command.reply_to
        topic = reply_topic(self.topics.base, asked)
        if topic is None:
            self._refuse("reply topic", "a command refused: its reply topic is not under "
                         f"{self.topics.reply}", RECORDING_ACTIONS[command.action], None)
            self._send(self.topics.reply, {"request_id": request_id, "status": 422, "detail": [
                {"loc": ["body", "reply_to"], "type": "value_error",
                 "msg": f"replies go to {self.topics.reply} or a topic under it only"}]})
            return
        user = command_user(self.station)
        action = RECORDING_ACTIONS[command.action]
        refused = user_refusal(self.station, user, action, group_name=command.group_name)
        if refused is not None:
            self._refuse("no user" if user is None else "forbidden",
                         f"a command refused: {refused[1]}", action, None)
            self._send(topic, {"request_id": request_id, "action": command.action,
                               "status": refused[0], "detail": refused[1]},
                       getattr(request, "CorrelationData", None))
            return
        log.info("MQTT: command %s tag %r group %r as %s", command.action, command.tag_name,
                 command.group_name, user.name if user else "-")
        with acting_as(user):
            reply = run_command(self._as(user, "mqtt command"), command,
                                self.station.scope.sources(user))
        self._send(topic, {"request_id": request_id, **reply},
                   getattr(request, "CorrelationData", None))

    def _as(self, user, door: str) -> AuditedStation:
        """The station as the MQTT user acts on it: the audit trail names the account."""
        return AuditedStation(self.station, who=f"{user.name} ({door})" if user else door,
                              dialect="mqtt", address=f"{self._host}:{self._port}")

    def _send(self, topic: str, reply: dict, correlation: bytes | None = None) -> None:
        """A reply (never retained), with the command's MQTT v5 correlation data if any."""
        properties = None
        if correlation is not None:
            properties = Properties(PacketTypes.PUBLISH)
            properties.CorrelationData = correlation
        self.client.publish(topic, dumps(reply), qos=1, properties=properties)
