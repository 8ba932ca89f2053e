"""`recording-station --self-test`: does this installation record?

An operator (or a package's CI) who has just installed the station wants one command that says
yes or no without a camera, a display or a network. The self-test builds a throwaway station
exactly as `main` does, on a temporary catalog and a free loopback port, and drives it only
through the native API, as a remote tool would:

    station → source (the built-in test pattern) → group → record 3 s → stop
            → download the file through the API → MD5 equals the record's → it decodes

Every step prints one line; the exit code is 0 only when every step passed. Nothing of the
operator's own station is touched: `RS_*` variables and the config file are ignored, the
desktop keyring is not asked for a key, and the temporary folder is removed afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from app.schemas import RecordStatus, SourceStatus
from app.settings import Settings
from app.station import build_station, start_station, stop_station
from app.uri_policy import TestPatternConfig

RECORD_SECONDS = 3.0
PATTERN = TestPatternConfig(320, 240, rate=25, gop_seconds=1.0).uri()
NAME = "self-test"


class StepFailed(Exception):
    """A step did not do what it should; the message says what was seen instead."""


class SelfTest:
    def __init__(self, out: TextIO):
        self.out = out
        self.passed = 0
        self.url = ""
        self.token = secrets.token_urlsafe(24)

    # --- reporting ----------------------------------------------------------------------------
    def step(self, title: str, action: Callable[[], str]) -> None:
        """Run one step; print `ok` with what it found, or raise StepFailed after printing."""
        started = time.monotonic()
        try:
            detail = action()
        except Exception as exc:  # noqa: BLE001 - every failure is reported the same way
            self.out.write(f"FAIL  {title}: {exc}\n")
            self.out.flush()
            raise StepFailed(title) from exc
        took = (time.monotonic() - started) * 1000
        self.out.write(f"ok    {title}: {detail} ({took:.0f} ms)\n")
        self.out.flush()
        self.passed += 1

    # --- the native API, as a remote client calls it ------------------------------------------
    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url.rstrip("/") + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                payload = response.read()
                kind = response.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            raise StepFailed(f"{method} {path} answered {exc.code}: {exc.read()[:200]!r}") from None
        return json.loads(payload) if kind.startswith("application/json") else payload


@contextlib.contextmanager
def isolated_environment(folder: Path) -> Iterator[None]:
    """No `RS_*` variable, the config file and the credentials key inside `folder`, and no
    keyring: the self-test must neither read nor change the operator's station."""
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.upper().startswith("RS_"):
            del os.environ[key]
    os.environ["RS_CONFIG_FILE"] = str(folder / "config" / "config.toml")
    os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_self_test(out: TextIO | None = None) -> int:
    out = out or sys.stdout
    test = SelfTest(out)
    with tempfile.TemporaryDirectory(prefix="recording-station-self-test-") as tmp:
        folder = Path(tmp)
        with isolated_environment(folder):
            try:
                _run_steps(test, folder)
            except StepFailed:
                out.write(f"self-test FAILED after {test.passed} step(s) passed\n")
                return 1
    out.write(f"self-test passed: {test.passed} steps\n")
    return 0


def _run_steps(test: SelfTest, folder: Path) -> None:
    from api.mqtt.bridge import MqttBridge  # likewise the MQTT bus, as main starts it
    from api.server import ApiServer  # like main: only composition code knows the API layer
    from recorder.selftest import describe_video

    settings = Settings(host="127.0.0.1", port=0, data_dir=folder / "data", token=test.token,
                        headless=True, demo=False, log_level="WARNING")
    station = build_station(settings)
    api: ApiServer | None = None
    state: dict[str, Any] = {}
    try:
        def start() -> str:
            nonlocal api
            start_station(station, mqtt=MqttBridge)
            api = ApiServer(station, settings.host, settings.port).start()
            test.url = api.url
            return f"API on {api.url}, catalog in {folder / 'data'}"
        test.step("start a headless station", start)

        def add_source() -> str:
            source = test.call("POST", "/api/v1/source", {"name": NAME, "uri_rtsp": PATTERN})
            state["source"] = source["id"]
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline:
                status = test.call("GET", f"/api/v1/source/{source['id']}/")["status"]
                if status == SourceStatus.online:
                    return f"source {source['id']} online (built-in test pattern, 320x240)"
                time.sleep(0.1)
            raise StepFailed(f"source still {status!r} after 15 s")
        test.step("add the test-pattern source", add_source)

        def make_group() -> str:
            group = test.call("POST", "/api/v1/group", {"name": NAME})[0]
            added = test.call("POST", f"/api/v1/group/{group['id']}/source/{state['source']}/")
            if added is not True:
                raise StepFailed(f"adding the source to the group answered {added!r}")
            return f"group {group['id']} holds the source"
        test.step("group it", make_group)

        def record() -> str:
            started = test.call("POST", "/api/v1/record",
                                {"model": "Source", "tag_name": NAME, "group_name": NAME})
            if len(started) != 1 or started[0]["status"] != RecordStatus.recording:
                raise StepFailed(f"start answered {started!r}")
            time.sleep(RECORD_SECONDS)
            stopped = test.call("PUT", "/api/v1/record", {"model": "Source", "tag_name": NAME})
            if len(stopped) != 1 or stopped[0]["status"] != RecordStatus.finished \
                    or not stopped[0]["hash_md5"]:
                raise StepFailed(f"stop answered {stopped!r}")
            state["record"] = stopped[0]
            return f"record {stopped[0]['id']} finished, MD5 {stopped[0]['hash_md5']}"
        test.step(f"record {RECORD_SECONDS:.0f} s and stop", record)

        def download() -> str:
            data = test.call("GET", f"/api/v1/record/{state['record']['id']}/video/")
            digest = hashlib.md5(data).hexdigest()
            if digest != state["record"]["hash_md5"]:
                raise StepFailed(f"MD5 {digest} of the download, the record says "
                                 f"{state['record']['hash_md5']}")
            state["file"] = data
            return f"{len(data)} bytes, MD5 matches"
        test.step("download the file through the API", download)

        def decode() -> str:
            frames, seconds, width, height = describe_video(state["file"])
            if (width, height) != (320, 240) or seconds < RECORD_SECONDS - 0.5:
                raise StepFailed(f"{frames} frames of {width}x{height} over {seconds:.2f} s")
            return f"{frames} frames of {width}x{height} over {seconds:.2f} s"
        test.step("decode it", decode)
    finally:
        if api is not None:
            api.stop()
        stop_station(station)
