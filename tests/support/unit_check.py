"""The check of the station's systemd user unit (#23 item 2), shared by the checkout's test
(tests/e2e/test_systemd_unit.py: the package's unit file, ExecStart pointed at the virtualenv)
and the installed package's (tests/packaging: the unit dpkg installed, unchanged):

1. the unit enabled and started by a real `systemd --user` (tests.support.user_systemd);
   a source in `continuous` mode added through the API records by itself;
2. a crash: SIGKILL of the unit's main process; systemd starts it again after `RestartSec`
   (`Restart=on-failure`) and the source records again within 5 s of its camera answering,
   the killed record `interrupted` with its MD5;
3. a reboot: the manager stops (the unit's `KillSignal=SIGTERM` finishes the recording), a
   new manager on the same folders starts the enabled unit with `default.target`, nobody
   runs systemctl start: recording again within 5 s of the camera answering, the previous
   boot's record `finished` with its MD5.

The station's settings (its folders, port, no demo) come as environment from a drop-in, as
an operator's config file would give them; `exec_start` (when given) replaces the command.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import wait_until
from tests.support.user_systemd import UserManager

UNIT = "recording-station.service"
MAX_LAG_S = 5.0  # recording again within this of the camera answering (#23 item 2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unit_directives(text: str) -> dict[str, str]:
    return dict(re.findall(r"^(\w+)=(.*)$", text, re.M))


def dropin(folder: Path, port: int, exec_start: str | None) -> str:
    """The test's override: the settings an operator would put in the config file, as
    environment, the output into a file (no journald here), the command when given."""
    env = {"HOME": folder, "RS_CONFIG_FILE": folder / "station-config.toml",
           "RS_DATA_DIR": folder / "data", "RS_PORT": port, "RS_HOST": "127.0.0.1",
           "RS_DEMO": "false", "RS_DISK_FLOOR_MB": "0", "RS_FSYNC_S": "1",
           "PYTHONUNBUFFERED": "1"}
    lines = ["[Service]"]
    if exec_start is not None:
        lines += ["ExecStart=", f"ExecStart={exec_start}"]
    lines += [f"StandardOutput=append:{folder / 'station.log'}", "StandardError=inherit"]
    lines += [f'Environment="{key}={value}"' for key, value in env.items()]
    return "\n".join(lines) + "\n"


class Api:
    def __init__(self, port: int):
        self.url = f"http://127.0.0.1:{port}"

    def call(self, method: str, path: str, body: object | None = None):
        """(status, decoded JSON); a station not listening: (None, None)."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None, None

    def up(self) -> bool:
        return self.call("GET", "/api/v1/source")[0] == 200

    def online(self, source_id: int) -> bool:
        status, source = self.call("GET", f"/api/v1/source/{source_id}")
        return status == 200 and source["status"] == "online"

    def recording(self, tag: str) -> list[dict]:
        status, records = self.call("GET", f"/api/v1/record?tag_name={tag}")
        return [r for r in records if r["status"] == "recording"] if status == 200 else []

    def record(self, record_id: int) -> dict:
        status, record = self.call("GET", f"/api/v1/record/{record_id}")
        assert status == 200, record
        return record


@dataclass
class UnitFigures:
    restarted_after_s: float  # SIGKILL to the new main process
    restart_lag_s: float      # camera online to recording, after the restart
    shutdown_s: float         # the manager's stop (the station's SIGTERM) at the end of a boot
    boot_s: float             # manager start to recording, the next boot
    boot_lag_s: float         # camera online to recording, the next boot

    def __str__(self) -> str:
        return (f"restarted {self.restarted_after_s:.1f} s after SIGKILL, recording "
                f"{self.restart_lag_s:.2f} s after the camera was online; end of boot (SIGTERM) "
                f"{self.shutdown_s:.1f} s; next boot to recording {self.boot_s:.1f} s, "
                f"{self.boot_lag_s:.2f} s after the camera was online")


def _recording_again(api: Api, source_id: int, before: int) -> tuple[dict, float]:
    """Wait for the station up, the camera online, then a new continuous record: the record
    and the seconds from the camera online to the record seen."""
    wait_until(api.up, 60, message="the station's API up again")
    online_at = wait_until(lambda: api.online(source_id) and time.monotonic(), 30,
                           message="the camera online")
    (again,) = wait_until(lambda: [r for r in api.recording("continuous") if r["id"] != before],
                          10, message="recording again")
    return again, time.monotonic() - online_at


def _growing(record: dict) -> None:
    path = Path(record["location"])
    wait_until(lambda: path.is_file() and path.stat().st_size > 100_000, 20,
               message=f"{path.name} growing")


def _md5(path: str) -> str:
    return hashlib.md5(Path(path).read_bytes()).hexdigest()


def check_restart_and_boot(folder: Path, camera_url: str, unit_text: str, *,
                           install_text: bool, exec_start: str | None) -> UnitFigures:
    """The whole check (module docstring) in `folder`; `unit_text` is the unit as installed
    (`install_text`: put it among the user's units; else the package's is there already)."""
    directives = unit_directives(unit_text)
    assert directives["Restart"] == "on-failure" and directives["KillSignal"] == "SIGTERM"
    assert directives["WantedBy"] == "default.target"
    restart_s = float(directives["RestartSec"])
    port = free_port()
    api = Api(port)
    with UserManager(folder / "user") as manager:
        manager.install_unit(UNIT, unit_text if install_text else None,
                             dropin(folder, port, exec_start))
        manager.boot()
        manager.systemctl("enable", "--now", UNIT)
        wait_until(api.up, 60, message="the station's API up")
        status, source = api.call("POST", "/api/v1/source", {
            "name": "door", "uri_rtsp": camera_url, "record_mode": "continuous"})
        assert status == 200, source
        (first,) = wait_until(lambda: api.recording("continuous"), 20,
                              message="continuous recording")
        _growing(first)

        # a crash: systemd starts the station again after RestartSec
        killed_pid = int(manager.show(UNIT, "MainPID"))
        os.kill(killed_pid, signal.SIGKILL)
        killed_at = time.monotonic()
        new_pid = wait_until(lambda: (pid := int(manager.show(UNIT, "MainPID"))) not in
                             (0, killed_pid) and pid, restart_s + 30,
                             message="systemd started the station again")
        restarted_after = time.monotonic() - killed_at
        assert restarted_after >= restart_s - 0.5, restarted_after
        assert manager.show(UNIT, "NRestarts") == "1"
        second, lag = _recording_again(api, source["id"], first["id"])
        assert lag <= MAX_LAG_S, lag
        killed = api.record(first["id"])
        assert killed["status"] == "interrupted", killed
        assert killed["hash_md5"] == _md5(killed["location"])
        _growing(second)

        # the end of a boot: the manager stops the unit with its KillSignal (SIGTERM)
        stopping = time.monotonic()
        manager.shutdown()
        shutdown_s = time.monotonic() - stopping
        assert not api.up()
        # the next boot: nobody starts the unit, default.target wants it
        booting = time.monotonic()
        manager.boot()
        _third, boot_lag = _recording_again(api, source["id"], second["id"])
        boot_s = time.monotonic() - booting
        assert boot_lag <= MAX_LAG_S, boot_lag
        assert int(manager.show(UNIT, "MainPID")) not in (0, killed_pid, new_pid)
        assert manager.show(UNIT, "NRestarts") == "0"  # started by the boot, not restarted
        finished = api.record(second["id"])
        assert finished["status"] == "finished", finished  # SIGTERM finished it
        assert finished["hash_md5"] == _md5(finished["location"])
        log = (folder / "station.log").read_text(errors="replace")
        assert log.count("API: ") == 3, log[-3000:]  # the first start, the restart, the boot
    return UnitFigures(restarted_after, lag, shutdown_s, boot_s, boot_lag)
