"""Recording by itself under the systemd user unit (#23 item 2, "a reboot under the installed
systemd user unit"): the package's unit file (resources/packaging/recording-station.service)
run by a real `systemd --user` (tests/support/user_systemd.py) with the real RTSP test camera
and a source in `continuous` mode: a SIGKILLed station is started again by systemd and
records again within 5 s of its camera answering; after the end of a boot and the next boot
the enabled unit records again by itself (tests/support/unit_check.py says how).

The unit file is installed unchanged among the user's units; a drop-in (what
`systemctl --user edit` writes) points its ExecStart at this checkout's `recording-station`
with the unit's own arguments. tests/packaging runs the same check on the unit the installed
package put in /usr/lib/systemd/user, its ExecStart unchanged.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.conftest import _camera
from tests.support.unit_check import UNIT, check_restart_and_boot, unit_directives
from tests.support.user_systemd import skip_reason

pytestmark = [pytest.mark.rtsp, pytest.mark.system,
              pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason()))]

UNIT_FILE = Path(__file__).resolve().parents[2] / "resources" / "packaging" / UNIT
STATION = Path(sys.executable).with_name("recording-station")


@pytest.fixture
def camera():
    cam = _camera(paths=["/cam"]).start()
    yield cam
    cam.stop()


@pytest.mark.timeout(240)
def test_the_unit_restarts_a_killed_station_and_boots_it_recording(tmp_path: Path, camera):
    unit_text = UNIT_FILE.read_text()
    command = unit_directives(unit_text)["ExecStart"]
    assert command == "/usr/bin/recording-station --headless"  # what the package runs
    figures = check_restart_and_boot(
        tmp_path, camera.urls[0], unit_text, install_text=True,
        exec_start=command.replace("/usr/bin/recording-station", str(STATION)))
    print(figures)
