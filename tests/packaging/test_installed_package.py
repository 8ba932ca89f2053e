"""The Debian package, installed on this machine the way an operator installs it, used the
way an operator uses it, then removed and purged: the footage stays.

Runs in file order (each test builds on the state the previous one left): lintian, install,
files and desktop entry, self-test, size, the window under Xvfb (recording through the API on
the way), the headless service's command, the unit under a real systemd user manager (a
killed station restarted, a reboot: a continuous source records again), remove, purge.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import _camera
from tests.support.camera import skip_reason as camera_skip
from tests.support.installed import files_size, operator_env
from tests.support.screen import Screen, colourful, save_png
from tests.support.unit_check import check_restart_and_boot
from tests.support.user_systemd import skip_reason as user_manager_skip

APP = "recording-station"
OPT = Path("/opt") / APP
UNIT = Path("/usr/lib/systemd/user") / f"{APP}.service"
DESKTOP = Path("/usr/share/applications") / f"{APP}.desktop"
# Bytes installed. Issue #13 set 250 MB, when the bundle could leave OpenCV out (236 MB then);
# issue #24 makes OpenCV's headless wheel a runtime dependency (cv2's module 70 MB, its
# OpenBLAS 39 MB, its image libraries; its own FFmpeg is left out for PyAV's, see the spec),
# so the budget is that bundle plus OpenCV, with the same margin (docs/benchmarks.md).
SIZE_BUDGET = 380_000_000

pytestmark = pytest.mark.timeout(300)


def sh(*command: str | Path, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(part) for part in command], capture_output=True, text=True, **kwargs)
    if check and done.returncode != 0:
        raise AssertionError(f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


@pytest.fixture(scope="module")
def operator_home():
    """A user's home under /home, where the purge script looks for footage."""
    home = Path(tempfile.mkdtemp(prefix="rs-package-test-", dir="/home"))
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def installed(deb):
    sh("dpkg", "--purge", APP, check=False)
    sh("dpkg", "-i", deb)
    yield deb
    sh("dpkg", "--purge", APP, check=False)


def api(url: str, method: str, path: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url.rstrip("/") + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(request, timeout=20) as response:
        return json.loads(response.read())


def wait_for_api_line(process: subprocess.Popen, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if line.startswith("API: "):
            return line.split()[1]
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"no 'API:' line; exit code {process.poll()}")


def test_lintian_reports_no_errors(deb):
    done = sh("lintian", "--tag-display-limit", "0", deb, check=False)
    errors = [line for line in done.stdout.splitlines() if line.startswith("E:")]
    assert done.returncode == 0 and not errors, done.stdout + done.stderr
    # the accepted warnings are listed in resources/packaging/README.md; a new kind shows here
    kinds = {line.split()[2] for line in done.stdout.splitlines() if line.startswith("W:")}
    assert kinds <= {"hardening-no-pie", "shared-library-lacks-prerequisites"}, done.stdout


def test_installs_as_a_desktop_application(installed):
    assert sh("dpkg-query", "-W", "-f", "${Status}", APP).stdout == "install ok installed"
    assert Path("/usr/bin", APP).resolve() == OPT / APP
    assert sh(APP, "--version").stdout.strip() == f"{APP} 0.1.0"
    # the menu entry, valid, naming an icon the hicolor theme has at every size menus ask for
    validate = sh("desktop-file-validate", DESKTOP, check=False)
    assert validate.returncode == 0 and validate.stdout == "", validate.stdout + validate.stderr
    entry = DESKTOP.read_text()
    assert "\nExec=recording-station\n" in entry and "\nIcon=recording-station\n" in entry
    hicolor = Path("/usr/share/icons/hicolor")
    assert (hicolor / "scalable/apps/recording-station.svg").is_file()
    for size in (16, 32, 48, 128, 256):
        png = hicolor / f"{size}x{size}/apps/recording-station.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Path("/usr/share/man/man1/recording-station.1.gz").is_file()
    # the systemd user unit is well formed and its command exists
    with tempfile.TemporaryDirectory() as runtime:
        os.chmod(runtime, 0o700)
        verify = sh("systemd-analyze", "verify", "--user", UNIT, check=False,
                    env={**os.environ, "XDG_RUNTIME_DIR": runtime})
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_installed_self_test_passes(installed, operator_home):
    done = sh(APP, "--self-test", env=operator_env(operator_home), timeout=120)
    assert done.stdout.strip().splitlines()[-1] == "self-test passed: 6 steps", done.stdout
    assert "MD5 matches" in done.stdout
    assert not (operator_home / ".local").exists()  # it used a throwaway station


def test_installed_size_is_under_budget(installed):
    declared_kib = int(sh("dpkg-query", "-W", "-f", "${Installed-Size}", APP).stdout)
    on_disk = files_size(OPT)
    assert on_disk < SIZE_BUDGET and declared_kib * 1024 < SIZE_BUDGET
    print(f"installed: {on_disk / 1e6:.1f} MB in {OPT}, Installed-Size {declared_kib} KiB")


def test_window_shows_live_tiles_and_records(installed, operator_home, tmp_path):
    with Screen() as screen:
        assert not colourful(screen.grab())
        log = operator_home / "window.log"
        # #26: a new install signs in at start; this test looks at the window's tiles
        env = {**operator_env(operator_home), "RS_GUI_LOGIN": "false"}
        process = subprocess.Popen([APP, "--port", "0"], env=screen.env(env),
                                   stdout=subprocess.PIPE, stderr=log.open("w"), text=True)
        try:
            url = wait_for_api_line(process)
            took, pixels = screen.wait_for(colourful, timeout=30)
            save_png(pixels, tmp_path / "installed-window.png")
            # the built-in demo, recorded for two seconds through the API
            started = api(url, "POST", "/api/v1/record",
                          {"model": "Source", "tag_name": "package-test", "group_name": "demo"})
            assert len(started) == 4
            time.sleep(2)
            stopped = api(url, "PUT", "/api/v1/record", {"model": "Source", "tag_name": "package-test"})
            assert {record["status"] for record in stopped} == {"finished"}
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                code = process.wait(30)
            except subprocess.TimeoutExpired:
                save_png(screen.grab(), tmp_path / "not-closing.png")
                process.kill()
                raise AssertionError(f"still running 30 s after SIGTERM; screen in {tmp_path}\n"
                                     + log.read_text()[-3000:]) from None
            assert code == 0, log.read_text()[-3000:]
    data = operator_home / ".local/share/recording-station"
    files = [Path(record["location"]) for record in stopped]
    assert all(path.is_file() and data in path.parents for path in files)
    print(f"tiles showed {took:.2f} s after the API was up; window: {tmp_path}/installed-window.png")


def test_headless_service_command_serves_the_api(installed, operator_home):
    """What `systemctl --user start recording-station` runs (ExecStart), run the same way;
    systemd itself is not running in this container, `systemd-analyze verify` checked the unit."""
    unit = UNIT.read_text()
    command = shlex.split(re.search(r"^ExecStart=(.+)$", unit, re.M).group(1))
    assert command == ["/usr/bin/recording-station", "--headless"]
    assert "KillSignal=SIGTERM" in unit and "WantedBy=default.target" in unit
    log = operator_home / "headless.log"
    process = subprocess.Popen([*command, "--port", "0"], env=operator_env(operator_home),
                               stdout=subprocess.PIPE, stderr=log.open("w"), text=True)
    try:
        url = wait_for_api_line(process)
        names = sorted(source["name"] for source in api(url, "GET", "/api/v1/source"))
        assert names == ["demo-1", "demo-2", "demo-3", "demo-4"]  # the window's catalog
        assert len(api(url, "GET", "/api/v1/record?tag_name=package-test")) == 4
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0, log.read_text()[-3000:]


def test_the_installed_unit_restarts_a_killed_station_and_boots_it_recording(installed,
                                                                             tmp_path):
    """The unit dpkg installed, unchanged, under a real `systemd --user` (in a mount namespace
    of its own: tests/support/user_systemd.py): SIGKILL, systemd starts the station again and
    a `continuous` source records again within 5 s of its camera answering; the end of a boot
    and the next one (the enabled unit started by default.target): recording again
    (tests/support/unit_check.py). Only the settings come from a drop-in (environment)."""
    reason = user_manager_skip() or camera_skip()
    if reason:
        pytest.skip(reason)
    camera = _camera(paths=["/cam"]).start()
    try:
        figures = check_restart_and_boot(tmp_path, camera.urls[0], UNIT.read_text(),
                                         install_text=False, exec_start=None)
    finally:
        camera.stop()
    print(figures)


def test_remove_keeps_the_footage_and_purge_says_where_it_is(installed, operator_home):
    data = operator_home / ".local/share/recording-station"
    config = operator_home / ".config/recording-station"
    before = {path: path.stat().st_size for path in data.rglob("*.mp4")}
    assert len(before) == 4

    sh("dpkg", "-r", APP)
    assert not OPT.exists() and not Path("/usr/bin", APP).exists() and not UNIT.exists()
    assert {path: path.stat().st_size for path in data.rglob("*.mp4")} == before
    assert (data / "catalog.sqlite3").is_file() and (config / "credentials.key").is_file()

    purge = sh("dpkg", "--purge", APP)
    assert str(data) in purge.stdout and str(config) in purge.stdout
    assert "kept" in purge.stdout
    assert {path: path.stat().st_size for path in data.rglob("*.mp4")} == before
    assert sh("dpkg-query", "-W", APP, check=False).returncode != 0
