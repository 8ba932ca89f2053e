"""The event model on the MQTT bus (#23 item 3) against Debian's mosquitto on loopback: every
change of an event (opened, acknowledged, closed) as one message on
`recording-station/<station_id>/event`, and per source Home Assistant's "camera lost"
problem sensor, whose retained state follows the open `camera_lost` events, also after the
broker or the station restarted. The last test stops the real RTSP test camera while it
records. A separate paho client of the test subscribes, as any other program would."""

from __future__ import annotations

import json

import pytest

from api.mqtt.bridge import MqttBridge
from app.schemas import SourceIn
from app.station import build_station, start_station, stop_station
from tests.conftest import _camera, make_settings, wait_until
from tests.support.mosquitto import station_topic
from tests.support.mosquitto import broker, listener  # noqa: F401 (fixtures)

TESTSRC = "testsrc://testsrc2?size=320x240&rate=25&gop=2"
PASSWORD = "s3cret-Pw"  # the camera's: never on the bus


def started(tmp_path, broker, names=("gate", "yard"), uri=TESTSRC):
    """A started in-process station with the MQTT bridge (as app.main starts it) and a source
    per name; the bridge connected."""
    station = build_station(make_settings(tmp_path, mqtt_url=broker.url()))
    start_station(station, mqtt=MqttBridge)
    for name in names:
        if not any(s.name == name for s in station.sources.list()):
            station.sources.create(SourceIn(name=name, uri_rtsp=uri))
    wait_until(lambda: station.mqtt.connected, 15, message="the bridge connected")
    return station


@pytest.fixture
def station(tmp_path, broker):
    station = started(tmp_path, broker)
    yield station
    stop_station(station)


def source_id(station, name: str) -> int:
    (found,) = [s.id for s in station.sources.list() if s.name == name]
    return found


def event_message(listener, station, event_id: int, change: str) -> dict:
    message = listener.wait_for(
        lambda m: m.topic == f"{station_topic(station)}/event"
        and json.loads(m.payload)["id"] == event_id and json.loads(m.payload)["change"] == change, message=f"event {event_id} {change}")
    assert not message.retain
    return json.loads(message.payload)


def state_is(broker, station, source: int, expected: bytes, timeout: float = 15.0) -> None:
    """A client subscribing now gets `expected` retained on the source's problem state."""
    topic = f"{station_topic(station)}/source/{source}/camera_lost"

    def retained_now() -> bool:
        late = broker.client(topic)
        try:
            message = late.wait_for(lambda m: m.retain, 2.0, message=f"{topic} retained")
            return message.payload == expected
        except AssertionError:
            return False
        finally:
            late.close()
    wait_until(retained_now, timeout, interval=0.2, message=f"{topic} retained {expected!r}")


def test_every_change_of_an_event_is_one_message_with_its_fields(station, listener, broker):
    gate = source_id(station, "gate")
    lost = station.events.open("camera_lost", source_id=gate, text="gate: camera lost",
                               caused_by="test")
    opened = event_message(listener, station, lost.id, "opened")
    assert opened["kind"] == "camera_lost" and opened["source_id"] == gate
    assert opened["source_name"] == "gate" and opened["station_id"] == station.station_id
    assert opened["severity"] == "alarm" and opened["text"] == "gate: camera lost"
    assert opened["begin"] == lost.begin and opened["end"] is None
    assert opened["caused_by"] == "test" and opened["acknowledged_by"] is None
    assert "data" not in opened  # a kind's details stay off the bus

    station.events.acknowledge(lost.id, "operator-1")
    acked = event_message(listener, station, lost.id, "acknowledged")
    assert acked["acknowledged_by"] == "operator-1" and acked["acknowledged_at"]
    assert acked["end"] is None

    station.events.close(lost.id)
    closed = event_message(listener, station, lost.id, "closed")
    assert closed["end"] and closed["end"] >= closed["begin"]
    assert closed["acknowledged_by"] == "operator-1"

    # An instant event is one "opened" message, begin = end; one of no source names none.
    note = station.events.instant("disk_low", text="the disk is low")
    instant = event_message(listener, station, note.id, "opened")
    assert instant["source_id"] is None and instant["source_name"] is None
    assert instant["begin"] == instant["end"] and instant["severity"] == "alarm"
    changes = [json.loads(m.payload)["change"]
               for m in listener.received(f"{station_topic(station)}/event")
               if json.loads(m.payload)["id"] == lost.id]
    assert changes == ["opened", "acknowledged", "closed"]  # one message per change


def test_the_problem_sensor_is_discovered_and_follows_camera_lost(station, listener, broker):
    gate, yard = source_id(station, "gate"), source_id(station, "yard")
    prefix = f"homeassistant/binary_sensor/rs_{station.station_id}_source_"
    config_topic = f"{prefix}{gate}_camera_lost/config"
    late = broker.client("homeassistant/#")  # Home Assistant (re)starting: retained configs
    try:
        config_message = late.wait_for(lambda m: m.topic == config_topic and m.retain,
                                       message="the problem sensor's config")
        assert late.wait_for(lambda m: m.topic == f"{prefix}{yard}_camera_lost/config")
    finally:
        late.close()
    config = json.loads(config_message.payload)
    assert config["device_class"] == "problem" and config["name"] == "gate camera lost"
    assert config["state_topic"] == f"{station_topic(station)}/source/{gate}/camera_lost"
    assert (config["payload_on"], config["payload_off"]) == ("ON", "OFF")
    assert config["unique_id"] == f"rs_{station.station_id}_source_{gate}_camera_lost"
    assert config["device"]["identifiers"] == [f"recording-station-{station.station_id}"]
    assert config["availability_topic"] == f"{station_topic(station)}/availability"
    state_is(broker, station, gate, b"OFF")

    lost = station.events.open("camera_lost", source_id=gate, text="gate: camera lost")
    state_is(broker, station, gate, b"ON")
    state_is(broker, station, yard, b"OFF")  # only the lost camera's sensor
    station.events.acknowledge(lost.id, "operator-1")  # seen, still lost
    event_message(listener, station, lost.id, "acknowledged")
    state_is(broker, station, gate, b"ON")
    station.events.close_open("camera_lost", gate)
    state_is(broker, station, gate, b"OFF")
    # the listener's own copy of that OFF may come after the late client's retained one
    topic = config["state_topic"]
    wait_until(lambda: [m.payload for m in listener.received(topic)][-2:] == [b"ON", b"OFF"],
               10, message="the listener hears ON then OFF")
    assert [m.payload for m in listener.received(topic)].count(b"ON") == 1

    # A removed source's sensor goes: its config and its state emptied.
    station.sources.delete(yard)
    listener.wait_for(lambda m: m.topic == f"{prefix}{yard}_camera_lost/config"
                      and m.payload == b"", message="the removed sensor's empty config")
    listener.wait_for(lambda m: m.topic == f"{station_topic(station)}/source/{yard}/camera_lost"
                      and m.payload == b"", message="its state emptied")


def test_the_problem_state_comes_from_the_open_events_after_restarts(tmp_path, broker):
    station = started(tmp_path, broker)
    gate, yard = source_id(station, "gate"), source_id(station, "yard")
    try:
        station.events.open("camera_lost", source_id=gate, text="gate: camera lost")
        state_is(broker, station, gate, b"ON")
        # The broker restarts without persistence: every retained state is forgotten, and the
        # bridge publishes them again from the events open in the catalog.
        broker.stop()
        wait_until(lambda: not station.mqtt.connected, 10, message="the broker gone")
        broker.start()
        wait_until(lambda: station.mqtt.connected, 30, message="the bridge reconnected")
        state_is(broker, station, gate, b"ON")
        state_is(broker, station, yard, b"OFF")
    finally:
        stop_station(station)
    # The station restarts: the event its stop left open is closed at start (the camera
    # watch), and the retained ON of the last run is replaced.
    station = started(tmp_path, broker)
    try:
        wait_until(lambda: not station.events.list(kind="camera_lost", open=True), 10,
                   message="the event left open closed")
        state_is(broker, station, gate, b"OFF")
    finally:
        stop_station(station)


def test_no_credential_of_a_source_reaches_the_bus(station, listener, broker):
    """An event's text may quote what FFmpeg said, with the camera's URI: the bus masks it."""
    gate = source_id(station, "gate")
    uri = f"rtsp://alice:{PASSWORD}@127.0.0.1:1/cam"
    failed = station.events.instant("recording_failed", source_id=gate,
                                    text=f"gate: cannot open {uri}: Connection refused")
    body = event_message(listener, station, failed.id, "opened")
    assert PASSWORD not in body["text"] and "cannot open rtsp://alice:" in body["text"]
    assert PASSWORD not in json.dumps(body)


@pytest.fixture
def camera():
    """A small camera that demands credentials (tests stop and start it)."""
    camera = _camera(width=320, height=240, fps=25, gop_seconds=1, bitrate_kbps=300,
                     pattern="ball", auth=("alice", PASSWORD))
    camera.start()
    yield camera
    camera.stop()


def test_a_camera_stopped_while_recording_turns_the_problem_sensor_on(tmp_path, broker, listener,
                                                                       camera):
    station = started(tmp_path, broker, names=("door",), uri=camera.url_with_credentials())
    try:
        door = source_id(station, "door")
        wait_until(lambda: station.sources.get(door).status == "online", 20,
                   message="the camera online")
        (record,) = station.recordings.start_sources("watched", [door], origin="test")
        assert record.status == "recording"
        state_is(broker, station, door, b"OFF")

        camera.stop()
        lost = listener.wait_for(
            lambda m: m.topic == f"{station_topic(station)}/event"
            and json.loads(m.payload)["kind"] == "camera_lost", 10, message="camera_lost")
        state_is(broker, station, door, b"ON", timeout=5)
        body = json.loads(lost.payload)
        assert body["source_name"] == "door" and body["change"] == "opened"
        assert "while recording" in body["text"]

        camera.start()  # back on the same port
        listener.wait_for(lambda m: m.topic == f"{station_topic(station)}/event"
                          and json.loads(m.payload)["kind"] == "camera_back", 30,
                          message="camera_back")
        state_is(broker, station, door, b"OFF", timeout=5)
        closed = event_message(listener, station, json.loads(lost.payload)["id"], "closed")
        assert closed["end"] is not None
    finally:
        stop_station(station)
    for message in listener.received():  # not in a payload, not in a topic
        assert PASSWORD.encode() not in message.payload and PASSWORD not in message.topic
