"""Motion on the MQTT bus (#24) against Debian's mosquitto on loopback: per source a Home
Assistant `binary_sensor` with `device_class: motion` and its retained state
`source/<id>/motion`, ON as the source's motion event opens and OFF `motion_off_delay_s`
after it closed (motion coming back meanwhile keeps it ON). The first tests drive the
bridge with the core bus's own `MotionChanged`; the last runs the whole chain: the RTSP test
camera serving a box that walks across its preview stream, the station's detector, and ON
then OFF on the bus. A separate paho client of the test subscribes, as Home Assistant would."""

from __future__ import annotations

import json
import time

import pytest

from api.mqtt.bridge import MqttBridge
from app.events import MotionChanged
from app.schemas import SourceIn
from app.station import apply_settings, build_station, start_station, stop_station
from tests.conftest import _camera, make_settings, wait_until
from tests.support.mosquitto import broker, listener  # noqa: F401 (fixtures)
from tests.support.mosquitto import station_topic
from tests.support.motion_scene import WalkingBox

TESTSRC = "testsrc://testsrc2?size=320x240&rate=10&gop=1"


def started(tmp_path, broker, sources: dict[str, dict]):
    station = build_station(make_settings(tmp_path, mqtt_url=broker.url()))
    start_station(station, mqtt=MqttBridge)
    for name, uris in sources.items():
        station.sources.create(SourceIn(name=name, **uris))
    wait_until(lambda: station.mqtt.connected, 15, message="the bridge connected")
    return station


@pytest.fixture
def station(tmp_path, broker):
    # The bus is driven by hand here: the sources are not read (enabled false), so no
    # detector of theirs takes part; their sensors are published all the same.
    station = started(tmp_path, broker, {"gate": {"uri_rtsp": TESTSRC, "enabled": False},
                                         "yard": {"uri_rtsp": TESTSRC, "enabled": False}})
    yield station
    stop_station(station)


def source_id(station, name: str) -> int:
    (found,) = [s.id for s in station.sources.list() if s.name == name]
    return found


def motion_states(listener, station, source: int) -> list[tuple[float, bytes]]:
    """(arrival, payload) of every message on the source's motion topic so far; the
    arrival on paho's clock, time.monotonic()."""
    topic = f"{station_topic(station)}/source/{source}/motion"
    return [(m.timestamp, m.payload) for m in listener.received(topic)]


def state_changes(listener, station, source: int) -> list[tuple[float, bytes]]:
    """`motion_states` with a repeat of the same state taken as one: the first state may be
    said twice at start (clean-clone runs saw OFF, OFF, ON)."""
    states = motion_states(listener, station, source)
    return [m for i, m in enumerate(states) if i == 0 or m[1] != states[i - 1][1]]


def retained(broker, topic: str) -> bytes:
    """The retained payload a client subscribing now gets on `topic`."""
    late = broker.client(topic)
    try:
        return late.wait_for(lambda m: m.retain, 5.0, message=f"{topic} retained").payload
    finally:
        late.close()


def wait_state(listener, station, source: int, payload: bytes, count: int = 1,
               timeout: float = 15.0) -> None:
    wait_until(lambda: [p for _, p in motion_states(listener, station, source)].count(payload)
               >= count, timeout, message=f"motion {payload!r} x{count}")


def test_the_motion_sensor_is_discovered_and_follows_motion_changed(station, listener,
                                                                     broker):
    gate, yard = source_id(station, "gate"), source_id(station, "yard")
    prefix = f"homeassistant/binary_sensor/rs_{station.station_id}_source_"
    # Home Assistant (re)starting once the station has published: it gets the retained
    # configs (subscribed any earlier, it may see one published live, not retained)
    listener.wait_for(lambda m: m.topic == f"{prefix}{gate}_motion/config",
                      message="the motion sensor's config published")
    late = broker.client("homeassistant/#")
    try:
        message = late.wait_for(lambda m: m.topic == f"{prefix}{gate}_motion/config"
                                and m.retain, message="the motion sensor's config")
        assert late.wait_for(lambda m: m.topic == f"{prefix}{yard}_motion/config")
        # next to the source's other entities, on the same device
        assert late.wait_for(lambda m: m.topic == f"{prefix}{gate}_camera_lost/config")
    finally:
        late.close()
    config = json.loads(message.payload)
    assert config["device_class"] == "motion" and config["name"] == "gate motion"
    assert config["state_topic"] == f"{station_topic(station)}/source/{gate}/motion"
    assert (config["payload_on"], config["payload_off"]) == ("ON", "OFF")
    assert config["unique_id"] == f"rs_{station.station_id}_source_{gate}_motion"
    assert config["device"]["identifiers"] == [f"recording-station-{station.station_id}"]
    assert config["availability_topic"] == f"{station_topic(station)}/availability"
    wait_state(listener, station, gate, b"OFF")  # published at the start, retained

    station.bus.publish(MotionChanged(gate, True, ("door",)))
    wait_state(listener, station, gate, b"ON")
    station.bus.publish(MotionChanged(gate, True, ("door", "path")))  # zones grew: still ON
    station.bus.publish(MotionChanged(gate, False, ("door", "path")))
    def said(source: int) -> list[bytes]:
        return [p for _, p in state_changes(listener, station, source)]
    wait_until(lambda: said(gate)[-2:] == [b"ON", b"OFF"], 15, message="OFF after ON")
    assert said(gate) == [b"OFF", b"ON", b"OFF"]
    assert [p for _, p in motion_states(listener, station, gate)].count(b"ON") == 1  # the
    # zones growing said nothing new
    assert said(yard) == [b"OFF"]  # not its motion
    assert retained(broker, config["state_topic"]) == b"OFF"  # what a newcomer is told

    # A removed source's sensor goes: its config and its state emptied.
    station.sources.delete(yard)
    listener.wait_for(lambda m: m.topic == f"{prefix}{yard}_motion/config" and m.payload == b"",
                      message="the removed sensor's empty config")
    listener.wait_for(lambda m: m.topic == f"{station_topic(station)}/source/{yard}/motion"
                      and m.payload == b"", message="its state emptied")


def test_off_waits_motion_off_delay_s_and_motion_again_keeps_it_on(station, listener):
    gate = source_id(station, "gate")
    wait_state(listener, station, gate, b"OFF")  # (the first state may be said twice)
    apply_settings(station, station.settings.model_copy(update={"motion_off_delay_s": 1.5}))

    def after_last(payload: bytes) -> list[tuple[float, bytes]]:
        """What came after the last `payload` on the gate's motion topic."""
        states = motion_states(listener, station, gate)
        last = max(i for i, (_, p) in enumerate(states) if p == payload)
        return states[last + 1:]

    station.bus.publish(MotionChanged(gate, True))
    wait_state(listener, station, gate, b"ON")
    closed = time.monotonic()
    station.bus.publish(MotionChanged(gate, False))
    wait_until(lambda: after_last(b"ON"), 15, message="OFF after the delay")
    ((off_at, off),) = after_last(b"ON")
    assert off == b"OFF" and off_at - closed >= 1.4, (off_at - closed)  # paho's arrival time

    # motion again within the delay: no OFF in between, one OFF after the last close
    station.bus.publish(MotionChanged(gate, True))
    wait_state(listener, station, gate, b"ON", count=2)
    station.bus.publish(MotionChanged(gate, False))
    time.sleep(0.5)  # within the delay: the event reopening is the case under test
    station.bus.publish(MotionChanged(gate, True))
    reopened = time.monotonic()
    station.bus.publish(MotionChanged(gate, False))
    wait_until(lambda: after_last(b"ON"), 15, message="OFF after the last close")
    time.sleep(0.3)  # nothing more may follow it (an ON, an OFF between)
    ((off_at, off),) = after_last(b"ON")
    assert off == b"OFF" and off_at - reopened >= 1.4, (off_at - reopened)


@pytest.mark.rtsp
def test_a_box_walking_across_the_preview_stream_is_on_then_off(tmp_path, broker, listener):
    """The whole chain: camera, preview decoder, detector, tracker, motion event, bridge."""
    scene = WalkingBox(seconds=12, width=320, height=180, box=(30, 45), period_s=12,
                       enter_s=2.0, walk_s=1.5, noise=3, bitrate_kbps=200)
    clip = scene.clip()
    camera = _camera(clips={"/main": clip, "/sub": clip}, log_play=True).start()
    try:
        station = started(tmp_path, broker, {"door": {"uri_rtsp": camera.urls[0],
                                                      "uri_preview": camera.urls[1]}})
        try:
            door = source_id(station, "door")
            wait_state(listener, station, door, b"OFF")
            wait_state(listener, station, door, b"ON", timeout=20)
            wait_state(listener, station, door, b"OFF", count=2, timeout=20)
            wait_until(lambda: len(state_changes(listener, station, door)) >= 3, 20, message="ON then OFF")
            (on_at, on), (off_at, off) = state_changes(listener, station, door)[1:3]
            assert (on, off) == (b"ON", b"OFF")
            # the camera dates the clip's start in wall time, paho the messages monotonic
            played = camera.play_times()["/sub"][-1] - time.time() + time.monotonic()
            entry = played + scene.entries()[0]
            # ON once the motion lasted the make time (0.5 s); OFF 2 s after the box left
            assert 0.3 < on_at - entry < 3.0, (on_at - entry)
            assert off_at - (entry + scene.walk_s) > 1.5
            (event,) = station.events.list(kind="motion", source_id=door, limit=10)
            assert event.end is not None
            assert station.events.raised_counts()["motion"] == 1  # /metrics' events_total
        finally:
            stop_station(station)
    finally:
        camera.stop()
