"""A real MQTT broker for tests: Debian's `mosquitto` on a free loopback port, with a password
file and no anonymous access, in a temporary folder; it can be stopped and started again on
the same port (the broker-restart test). No persistence: a restarted broker has forgotten
every retained message, as after a crash, so whoever publishes state must publish it again.

    broker = MosquittoBroker().start()
    broker.url()            # mqtt://station:<password>@127.0.0.1:<port>
    broker.client()         # a connected paho client (MQTT v5) of the test

The `broker` and `listener` fixtures (a listener is a test client subscribed to everything)
are imported by the test modules that talk to a broker; `station_topic` is where a station
publishes.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.support.ports import free_loopback_port

MOSQUITTO = "/usr/sbin/mosquitto"
USER = "station"


class MosquittoBroker:
    def __init__(self, tls: tuple[Path, Path] | None = None) -> None:
        """`tls`: (certificate, key) files: a second listener, `tls_port`, speaks TLS."""
        self.port = free_loopback_port()
        self.tls = tls
        self.tls_port = free_loopback_port() if tls else None
        self.password = secrets.token_urlsafe(16)
        self.folder = Path(tempfile.mkdtemp(prefix="rs-mosquitto-"))
        self.log_path = self.folder / "mosquitto.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 10.0) -> "MosquittoBroker":
        if not Path(MOSQUITTO).exists():
            raise RuntimeError("mosquitto is not installed (Debian package mosquitto)")
        passwords = self.folder / "passwd"
        if not passwords.exists():
            subprocess.run(["mosquitto_passwd", "-b", "-c", str(passwords), USER, self.password],
                           check=True, capture_output=True)
            os.chmod(passwords, 0o600)
        config = self.folder / "mosquitto.conf"
        # Run as root, mosquitto drops to the `mosquitto` user unless `user` names us: it
        # then could not read the password file of this folder.
        config.write_text(f"listener {self.port} 127.0.0.1\n"
                          "allow_anonymous false\n"
                          f"password_file {passwords}\n"
                          "persistence false\n"
                          f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
                          f"log_dest file {self.log_path}\n"
                          "log_type error\nlog_type warning\nlog_type notice\n")
        if self.tls:
            with config.open("a") as out:
                out.write(f"listener {self.tls_port} 127.0.0.1\n"
                          f"certfile {self.tls[0]}\nkeyfile {self.tls[1]}\n")
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited ({self.proc.returncode}): {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port} within {timeout}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def url(self, password: str | None = None, *, tls: bool = False) -> str:
        if tls:
            return f"mqtts://{USER}:{password or self.password}@localhost:{self.tls_port}"
        return f"mqtt://{USER}:{password or self.password}@127.0.0.1:{self.port}"

    def client(self, subscribe: str | None = None) -> "Listener":
        return Listener(self, subscribe)


class Listener:
    """A test's own MQTT v5 client: connected, optionally subscribed, every message kept
    (topic, payload, retain flag, properties) for `wait_for`."""

    def __init__(self, broker: MosquittoBroker, subscribe: str | None) -> None:
        self.messages: list[mqtt.MQTTMessage] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                                  client_id=f"test-{secrets.token_hex(4)}")
        self.client.username_pw_set(USER, broker.password)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self._ready.set()
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        if subscribe:
            self.client.subscribe(subscribe, qos=1)
            if not self._ready.wait(10):
                raise RuntimeError("the test client's subscription was not acknowledged")

    def _on_message(self, client, _userdata, message) -> None:
        with self._lock:
            self.messages.append(message)

    def received(self, topic: str | None = None) -> list[mqtt.MQTTMessage]:
        with self._lock:
            return [m for m in self.messages if topic is None or m.topic == topic]

    def wait_for(self, predicate, timeout: float = 15.0, message: str = ""):
        """The first kept message `predicate(message)` accepts, waiting for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for item in self.received():
                if predicate(item):
                    return item
            time.sleep(0.05)
        topics = sorted({m.topic for m in self.received()})
        raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate}; "
                             f"topics seen: {topics}")

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def station_topic(station) -> str:
    """The topic under which `station` publishes and takes its commands."""
    return f"recording-station/{station.station_id}"


@pytest.fixture
def broker():
    server = MosquittoBroker().start()
    yield server
    server.remove()


@pytest.fixture
def listener(broker):
    client = broker.client("#")
    yield client
    client.close()
