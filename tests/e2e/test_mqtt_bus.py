"""The MQTT bus (issue #15 item 5) against Debian's mosquitto on loopback, with a password file:
an in-process station publishes its state and events, takes commands and Home Assistant's
switches, and keeps recording whatever the broker does. A separate paho client of the test
subscribes and commands, as any other program on the bus would."""

from __future__ import annotations

import json
import shutil
import subprocess
import logging
import time
import uuid

import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from api.mqtt.bridge import QUEUE_MAX, MqttBridge
from app.events import SourceStatusChanged
from app.schemas import GroupIn, SourceIn
from app.station import build_station, start_station, stop_station
from tests.conftest import make_settings, wait_until
from tests.support.media import packet_times
from tests.support.mosquitto import MosquittoBroker, station_topic
from tests.support.mosquitto import broker, listener  # noqa: F401 (fixtures)
from tests.support.ports import free_loopback_port
from tests.support.station_process import StationProcess

TESTSRC = "testsrc://testsrc2?size=320x240&rate=25&gop=2"
FRAME_S = 1 / 25


def station_with_group(tmp_path, mqtt_url: str | None, sources: int = 2):
    """A started station whose group `lobby` holds `sources` test patterns, all online; MQTT
    commands act as the operator account `ha` (`mqtt_user`)."""
    station = build_station(make_settings(tmp_path, mqtt_url=mqtt_url, mqtt_user="ha"))
    station.accounts.create("ha", "home assistant's password", role="operator")
    start_station(station, mqtt=MqttBridge)  # as app.main starts it
    group = station.groups.create(GroupIn(name="lobby"))
    for i in range(1, sources + 1):
        source = station.sources.create(SourceIn(name=f"cam-{i}", uri_rtsp=TESTSRC))
        station.groups.add_source(group.id, source.id)
    wait_until(lambda: all(s.status == "online" for s in station.sources.list()), 20,
               message="the test patterns online")
    return station


@pytest.fixture
def station(tmp_path, broker):
    station = station_with_group(tmp_path, broker.url())
    wait_until(lambda: station.mqtt.connected, 15, message="the bridge connected")
    yield station
    stop_station(station)


def payload_json(message) -> dict:
    return json.loads(message.payload)


def retained_state(broker, station, source_ids) -> dict[str, bytes]:
    """What a client subscribing now gets at once: the retained messages of the station.
    The bridge publishes its state on (re)connecting, `online` last; a client subscribing
    meanwhile would get part of it live (retain flag cleared), never retained. So `online`
    (live or retained) is awaited first, then a new client asks what is retained."""
    watcher = broker.client(f"{station_topic(station)}/availability")
    try:
        watcher.wait_for(lambda m: m.payload == b"online", message="online published")
    finally:
        watcher.close()
    late = broker.client(f"{station_topic(station)}/#")
    try:
        wanted = [f"{station_topic(station)}/availability", f"{station_topic(station)}/disk",
                  *(f"{station_topic(station)}/source/{i}/status" for i in source_ids)]
        for topic in wanted:
            late.wait_for(lambda m, t=topic: m.topic == t and m.retain, message=f"{topic} retained")
        return {m.topic: m.payload for m in late.received() if m.retain}
    finally:
        late.close()


def test_every_event_of_a_start_and_stop_arrives_and_the_state_is_retained(station, broker, listener):
    source_ids = [s.id for s in station.sources.list()]
    retained = retained_state(broker, station, source_ids)
    assert retained[f"{station_topic(station)}/availability"] == b"online"
    for source_id in source_ids:
        status = json.loads(retained[f"{station_topic(station)}/source/{source_id}/status"])
        assert status["source_id"] == source_id and status["online"] is True
        assert status["status"] == "online"
    disk = json.loads(retained[f"{station_topic(station)}/disk"])
    assert disk["free_bytes"] > 0 and disk["total_bytes"] >= disk["free_bytes"]

    started = station.recordings.start("mqtt-events", "lobby", origin="test")
    time.sleep(1.0)
    stopped = station.recordings.stop("mqtt-events", origin="test")
    assert {r.status for r in stopped} == {"finished"}

    for kind, records in (("recording_started", started), ("recording_stopped", stopped)):
        for record in records:
            message = listener.wait_for(
                lambda m, k=kind, r=record: m.topic == f"{station_topic(station)}/event/{k}"
                and payload_json(m)["record_id"] == r.id, message=f"{kind} of {record.id}")
            event = payload_json(message)
            assert not message.retain
            assert event["source_id"] == record.source.id and event["tag_name"] == "mqtt-events"
            assert event["origin"] == "test"
    announced = listener.received(f"{station_topic(station)}/event/recording_started")
    assert len(announced) == len(source_ids)
    # The group's switch state followed: ON while it recorded, OFF after.
    state_topic = f"{station_topic(station)}/group/1/state"
    wait_until(lambda: listener.received(state_topic)[-1].payload == b"OFF", 10,
               message="the group's state OFF again")
    assert b"ON" in [m.payload for m in listener.received(state_topic)]


def command(listener, station, body: dict, *, response_topic: str | None = None,
            correlation: bytes | None = None) -> None:
    properties = None
    if response_topic:
        properties = Properties(PacketTypes.PUBLISH)
        properties.ResponseTopic = response_topic
        properties.CorrelationData = correlation
    listener.client.publish(f"{station_topic(station)}/command", json.dumps(body), qos=1,
                            properties=properties)


def test_a_command_starts_and_stops_a_group_and_the_reply_carries_the_records(station, listener):
    # start: the MQTT v5 way, a response topic and correlation data
    command(listener, station, {"action": "start", "tag_name": "by-mqtt", "group_name": "lobby",
                                "request_id": "r1"},
            response_topic=f"{station_topic(station)}/reply/v5", correlation=b"corr-1")
    reply = listener.wait_for(lambda m: m.topic == f"{station_topic(station)}/reply/v5",
                              message="the start reply")
    assert reply.properties.CorrelationData == b"corr-1"
    body = payload_json(reply)
    assert body["status"] == 200 and body["request_id"] == "r1" and body["action"] == "start"
    assert len(body["records"]) == 2
    assert {r["status"] for r in body["records"]} == {"recording"}
    assert station.recordings.is_running("by-mqtt")
    assert all(r.tag_name == "by-mqtt" for r in station.recordings.own_running())
    time.sleep(1.0)

    # stop: the v3 way, a reply_to field
    command(listener, station, {"action": "stop", "tag_name": "by-mqtt", "request_id": "r2",
                                "reply_to": f"{station_topic(station)}/reply/plain"})
    reply = listener.wait_for(lambda m: m.topic == f"{station_topic(station)}/reply/plain",
                              message="the stop reply")
    body = payload_json(reply)
    assert body["status"] == 200 and body["request_id"] == "r2"
    assert {r["status"] for r in body["records"]} == {"finished"}
    assert {r["id"] for r in body["records"]} == {r.id for r in station.recordings.list("by-mqtt")}
    assert not station.recordings.is_running("by-mqtt")
    for record in body["records"]:
        assert record["source"]["uri_rtsp"] == TESTSRC  # the API's record shape
        assert record["size_bytes"] > 0 and record["hash_md5"]
    # In the audit trail, as an API request would be.
    assert station.audit.flush()
    entries = station.audit.list(dialect="mqtt").items
    assert [(e.action, e.who, e.result) for e in reversed(entries)] == [
        ("start recording", "ha (mqtt command)", "ok"),
        ("stop recording", "ha (mqtt command)", "ok")]


def test_commands_act_as_mqtt_user_with_its_role_and_scope(station, listener):
    """No `mqtt_user`: every command and switch refused (403); a viewer's: refused; an
    operator scoped to another group: the group does not exist for it (404). Nothing starts."""
    reply_topic = f"{station_topic(station)}/reply"
    lobby = station.groups.list()[0].id
    hall = station.groups.create(GroupIn(name="hall"))
    station.accounts.create("watcher", "a viewer's password", role="viewer")
    station.accounts.create("hall-op", "an operator's password", role="operator", scope=[hall.id])
    expected = {None: 403, "watcher": 403, "hall-op": 404}
    for n, (user, status) in enumerate(expected.items()):
        station.live.replace(station.settings.model_copy(update={"mqtt_user": user}))
        command(listener, station, {"action": "start", "tag_name": "nope", "group_name": "lobby",
                                    "request_id": f"u{n}"})
        reply = listener.wait_for(lambda m, n=n: m.topic == reply_topic
                                  and payload_json(m).get("request_id") == f"u{n}")
        assert payload_json(reply)["status"] == status, (user, payload_json(reply))
        listener.client.publish(f"{station_topic(station)}/group/{lobby}/set", "ON", qos=1)
        switched = wait_until(lambda n=n: [payload_json(m) for m in listener.received(reply_topic)
                                           if b"group_id" in m.payload][n:], 15)
        assert switched[0]["status"] == status, (user, switched)
    assert not station.recordings.own_running()
    assert "mqtt_user" in payload_json(listener.received(reply_topic)[0])["detail"]


def test_a_bad_command_is_answered_in_the_api_error_shape(station, listener):
    command(listener, station, {"action": "start", "tag_name": "x", "group_name": "no-such",
                                "request_id": "bad-1"})
    body = payload_json(listener.wait_for(lambda m: m.topic == f"{station_topic(station)}/reply"))
    assert body == {"request_id": "bad-1", "action": "start", "status": 404,
                    "detail": "group 'no-such' not found"}
    command(listener, station, {"action": "explode", "tag_name": "x", "request_id": "bad-2",
                                "reply_to": "test/bad"})
    body = payload_json(listener.wait_for(lambda m: m.topic == f"{station_topic(station)}/reply"
                                          and payload_json(m)["request_id"] == "bad-2"))
    assert body["status"] == 422 and body["detail"][0]["loc"] == ["body", "action"]
    listener.client.publish(f"{station_topic(station)}/command", b"{not json", qos=1)
    body = payload_json(listener.wait_for(lambda m: m.topic == f"{station_topic(station)}/reply"
                                          and payload_json(m)["request_id"] is None))
    assert body["status"] == 422 and body["detail"][0]["type"] == "json_invalid"
    assert station.recordings.running_tags() == []


def test_home_assistant_discovery_and_its_switch(station, broker, listener):
    prefix = "homeassistant/"
    wait_until(lambda: len({m.topic for m in listener.received() if m.topic.startswith(prefix)})
               >= 8, 15, message="discovery")
    configs = {m.topic: m for m in listener.received() if m.topic.startswith(prefix)}
    # the disk sensor, one switch, per source a connectivity, a problem (camera lost) and a
    # motion binary sensor
    assert len(configs) == 8
    parsed = {}
    for topic, message in configs.items():
        assert message.topic.endswith("/config")
        config = json.loads(message.payload)  # valid JSON
        parsed[topic] = config
        assert config["device"]["identifiers"] == [f"recording-station-{station.station_id}"]
        assert config["availability_topic"] == f"{station_topic(station)}/availability"
        assert config["state_topic"].startswith(station_topic(station) + "/")
    assert len({c["unique_id"] for c in parsed.values()}) == 8
    kinds = sorted(topic.split("/")[1] for topic in parsed)
    assert kinds == ["binary_sensor"] * 6 + ["sensor", "switch"]
    assert sorted(c.get("device_class", "") for c in parsed.values()
                  if c.get("device_class") in ("motion", "problem")) == ["motion"] * 2 + ["problem"] * 2
    (switch,) = [c for t, c in parsed.items() if t.split("/")[1] == "switch"]
    assert switch["command_topic"] == f"{station_topic(station)}/group/1/set"
    assert switch["state_topic"] == f"{station_topic(station)}/group/1/state"

    # A late subscriber (Home Assistant restarting) gets the configs retained.
    late = broker.client("homeassistant/#")
    try:
        late.wait_for(lambda m: m.topic.endswith("_group_1/config") and m.retain)
    finally:
        late.close()

    # The switch: ON starts the group under a generated tag, OFF stops it.
    listener.client.publish(switch["command_topic"], "ON", qos=1)
    wait_until(lambda: len(station.recordings.own_running()) == 2, 15, message="the group started")
    listener.wait_for(lambda m: m.topic == switch["state_topic"] and m.payload == b"ON")
    (tag,) = station.recordings.running_tags()
    assert tag.startswith("lobby-")
    time.sleep(0.5)
    listener.client.publish(switch["command_topic"], "OFF", qos=1)
    wait_until(lambda: not station.recordings.own_running(), 15, message="the group stopped")
    assert {r.status for r in station.recordings.list(tag)} == {"finished"}
    assert station.audit.flush()
    assert [e.who for e in station.audit.list(dialect="mqtt").items] == [
        "ha (home assistant switch)"] * 3  # one start, two stop_record

    # Catalog changes update the discovery: a new group appears, a deleted one goes.
    group = station.groups.create(GroupIn(name="hall"))
    topic = f"homeassistant/switch/rs_{station.station_id}_group_{group.id}/config"
    listener.wait_for(lambda m: m.topic == topic and m.payload, message="the new group's switch")
    station.groups.delete(group.id)
    listener.wait_for(lambda m: m.topic == topic and m.payload == b"", message="its removal")


def test_a_wrong_broker_password_never_stops_the_station(tmp_path, broker, caplog, capfd):
    wrong = "wrong-" + uuid.uuid4().hex
    caplog.set_level(logging.DEBUG)
    station = station_with_group(tmp_path, broker.url(password=wrong), sources=1)
    try:
        wait_until(lambda: "refused the connection" in caplog.text, 15,
                   message="the refusal logged")
        assert not station.mqtt.connected
        station.recordings.start("no-broker", "lobby", origin="test")
        time.sleep(1.0)
        (record,) = station.recordings.stop("no-broker", origin="test")
        assert record.status == "finished" and record.size_bytes > 0
        assert not station.mqtt.connected
    finally:
        stop_station(station)
    out, err = capfd.readouterr()
    for text in (caplog.text, out, err):
        assert wrong not in text and broker.password not in text
    assert f"127.0.0.1:{broker.port}" in caplog.text  # the logs name the broker, without secrets


def test_the_broker_restarted_mid_recording(station, broker, listener):
    """The broker goes away for a few seconds while two sources record: recording goes on
    without a gap in the files, the bridge reconnects and publishes its retained state again
    (the restarted broker, without persistence, had forgotten it)."""
    source_ids = [s.id for s in station.sources.list()]
    station.recordings.start("through-outage", "lobby", origin="test")
    started = time.monotonic()
    time.sleep(1.0)
    listener.close()
    broker.stop()
    wait_until(lambda: not station.mqtt.connected, 10, message="the bridge sees the broker gone")
    for _ in range(QUEUE_MAX * 2):  # a storm of status events while the broker is away
        station.bus.publish(SourceStatusChanged(source_ids[0], "online"))
    assert len(station.mqtt._queue) <= QUEUE_MAX  # bounded, the oldest dropped
    time.sleep(2.0)  # away for a while: the bridge's first retry (after 1 s) finds no broker
    broker.start()
    wait_until(lambda: station.mqtt.connected, 30, message="the bridge reconnected")
    retained = retained_state(broker, station, source_ids)
    assert retained[f"{station_topic(station)}/availability"] == b"online"
    time.sleep(1.0)
    recorded_s = time.monotonic() - started  # the files span all of it, the outage too
    records = station.recordings.stop("through-outage", origin="test")
    assert {r.status for r in records} == {"finished"} and len(records) == 2
    for record in records:
        times = packet_times(record.location, "video")
        assert record.duration_s and record.duration_s > recorded_s - 0.5, \
            (record.duration_s, recorded_s)
        steps = [b - a for a, b in zip(times, times[1:])]
        assert max(steps) <= FRAME_S * 1.5, f"a gap of {max(steps):.3f} s in {record.location}"
        assert not record.gaps


def test_a_killed_station_shows_offline_by_its_last_will(tmp_path, broker, listener):
    """A station process that stops says offline itself; one killed (SIGKILL: no word to
    the broker) is shown offline by the broker, from the Last Will it left when connecting."""
    topic = "recording-station/process-1/availability"
    env = {"RS_MQTT_URL": broker.url(), "RS_STATION_ID": "process-1"}
    with StationProcess(tmp_path, env=env) as process:
        listener.wait_for(lambda m: m.topic == topic and m.payload == b"online", 30)
    assert listener.received(topic)[-1].payload == b"offline"  # said at a clean stop
    with StationProcess(tmp_path, env=env) as process:
        wait_until(lambda: listener.received(topic)[-1].payload == b"online", 30,
                   message="online again")
        process.proc.kill()
        process.proc.wait()
        listener.wait_for(lambda m: m.topic == topic and m.payload == b"offline"
                          and listener.received(topic).index(m) > 2, 15, message="the Last Will")
        log = process.log_text()
    assert "MQTT: connected to mqtt://127.0.0.1:" in log
    assert broker.password not in log


def test_without_a_broker_the_bus_listener_only_queues(tmp_path):
    """Nothing listens at the broker's address: the bridge keeps trying in the background,
    and what the event bus hands it stays in a bounded queue."""
    station = build_station(make_settings(
        tmp_path, mqtt_url=f"mqtt://u:p@127.0.0.1:{free_loopback_port()}"))
    bridge = MqttBridge(station)
    bridge.start()
    try:
        for _ in range(QUEUE_MAX + 500):
            bridge._on_event(SourceStatusChanged(1, "online"))
        assert len(bridge._queue) <= QUEUE_MAX
        assert not bridge.connected
    finally:
        bridge.stop()
        station.catalog.close()


def openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture
def tls_broker(tmp_path):
    """A broker with a TLS listener whose certificate (localhost) a test CA signed."""
    pki = tmp_path / "pki"
    pki.mkdir()
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=MQTT test CA", "-addext", "basicConstraints=critical,CA:TRUE", cwd=pki)
    openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost",
            cwd=pki)
    (pki / "server.ext").write_text("subjectAltName=DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "server.ext",
            cwd=pki)
    server = MosquittoBroker(tls=(pki / "server.pem", pki / "server.key")).start()
    yield server, pki / "ca.pem"
    server.remove()


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")
def test_mqtts_checks_the_broker_certificate(tmp_path, tls_broker, monkeypatch, caplog):
    """`mqtts://` speaks TLS and trusts the system's CAs only: a broker signed by an unknown
    CA is refused; once that CA is trusted (SSL_CERT_FILE, as a system CA would be), the
    station connects and publishes."""
    broker, ca = tls_broker
    untrusted = build_station(make_settings(tmp_path / "a", mqtt_url=broker.url(tls=True)))
    bridge = MqttBridge(untrusted)
    bridge.start()
    try:
        wait_until(lambda: "cannot connect to mqtts://localhost" in caplog.text, 15,
                   message="the failure logged")
        assert not bridge.connected
    finally:
        bridge.stop()
        untrusted.catalog.close()

    monkeypatch.setenv("SSL_CERT_FILE", str(ca))
    listener = broker.client("recording-station/#")
    station = station_with_group(tmp_path / "b", broker.url(tls=True), sources=1)
    try:
        wait_until(lambda: station.mqtt.connected, 15, message="connected over TLS")
        listener.wait_for(lambda m: m.topic == f"{station_topic(station)}/availability"
                          and m.payload == b"online")
    finally:
        stop_station(station)
        listener.close()
    assert broker.password not in caplog.text
