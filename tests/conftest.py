"""Shared fixtures: a real station core on a temp folder and a real SQLite file, the API on
a real socket, and helpers to decode recorded files back.

The suite runs in parallel (`make test`: pytest-xdist, README "Tests"): every server a test
starts (PostgreSQL, mosquitto, the RTSP cameras, nginx-rtmp, station processes) takes a free
loopback port and a temporary folder of its own, so each worker may start its own. Two rules
keep the parallel run as cheap and as sound as the serial one (`pytest_collection_modifyitems`):
the tests of a module that share a module-scoped fixture run on one worker, so the fixture is
built once; and the long end-to-end runs are marked `system`, which `make test-fast` leaves out.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

import av
import pytest

from app.settings import Settings
from app.station import Station, build_station, start_station, stop_station

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# No test reads or writes the operator's config folder or keyring: the config file (absent)
# and the credentials key file (app.credentials) go to a temporary folder of this run.
os.environ.setdefault("RS_CONFIG_FILE", str(Path(tempfile.mkdtemp(prefix="rs-test-config-"))
                                            / "recording-station.toml"))
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")

TESTSRC = "testsrc://testsrc2?size=320x240&rate=25&gop=1"

# End-to-end runs of real station processes (tests/e2e), real attacks on real station processes
# (tests/security), and single tests elsewhere that run for a minute or more.
SYSTEM_FOLDERS = ("tests/e2e/", "tests/security/")
# The slow criterion: a test that needs more than ~8 s of real time on a quiet machine because
# time is its point (a camera, a server or a station process stopped and started again, a
# timeout or an idle limit run out) or because it runs real station processes, and that cannot
# be shortened without weakening what it asserts. `make test` runs them; `make test-fast` not.
SLOW_TESTS = (
    "tests/ui/test_site_gui.py::",  # two real station processes per test, one killed
    "tests/app/test_self_test.py::test_self_test_records_downloads_and_decodes_",  # a process
    "tests/api/test_huawei_live.py::test_recording_ends_after_the_interruption_window_",
    "tests/api/test_huawei_rtc.py::test_max_idle_time_stops_the_job_and_keeps_its_file",
    "tests/recorder/test_reconnect.py::test_recording_continues_in_the_same_file_within_2_s_",
    "tests/recorder/test_forward.py::test_a_source_is_forwarded_live_and_survives_a_server_",
)
SYSTEM_TESTS = ("tests/api/test_openapi.py::test_live_station_conforms_to_its_document",
                *SLOW_TESTS)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Mark the tests of SYSTEM_FOLDERS and SYSTEM_TESTS `system`; put the tests of a module
    that share a module-scoped fixture in one xdist group (`--dist loadgroup`), so that one
    worker builds the fixture once instead of every worker building its own. Runs first, so
    that xdist's own hook (and the suffix hook below) read the groups."""
    for item in items:
        if item.nodeid.startswith(SYSTEM_FOLDERS) or item.nodeid.startswith(SYSTEM_TESTS):
            item.add_marker(pytest.mark.system)
        if item.get_closest_marker("xdist_group"):
            continue
        # _fixtureinfo: pytest's record of the fixtures an item uses (no public accessor)
        definitions = getattr(item, "_fixtureinfo", None)
        shared = definitions is not None and any(
            fixture.scope == "module" for defs in definitions.name2fixturedefs.values()
            for fixture in defs)
        if shared:
            item.add_marker(pytest.mark.xdist_group(item.nodeid.split("::")[0]))


@pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
def pytest_collection_modifyitems_node_groups(config, items):
    """xdist's `loadgroup` schedules by a `@group` suffix its worker hook writes to
    `item._nodeid`; pytest 9 keeps the node id in `item._id`, so the suffix is lost and every
    worker rebuilt each module-scoped fixture (tests/api/test_export.py's 6-second recording
    once per test). Write the suffix where pytest 9 reads it, unless xdist already did."""
    if not getattr(config.option, "loadgroup", False):  # set on xdist's workers only
        return
    for item in items:
        groups = sorted({str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                         for mark in item.iter_markers("xdist_group")})
        suffix = "@" + "_".join(groups)
        if groups and not item.nodeid.endswith(suffix):
            from _pytest.nodeid import NodeId  # pytest >= 9 (older ones took xdist's suffix)

            item._id = NodeId.parse(item.nodeid + suffix)


def make_settings(tmp_path: Path, **extra) -> Settings:
    extra.setdefault("media_dirs", [tmp_path])  # file:// sources of a test: its own tmp folder
    return Settings(data_dir=tmp_path / "data", port=0, demo=False, disk_floor_mb=0, **extra)


@pytest.fixture(scope="session")
def postgres_server():
    """One real PostgreSQL server for the run, started only if a test asks for it."""
    from tests.support.postgres import PostgresServer

    server = PostgresServer().start()
    yield server
    server.stop()


def backend_url(request, backend: str) -> str | None:
    """The catalog URL of a backend: None is the station's own SQLite file; "postgresql" a
    new empty database on the run's PostgreSQL server."""
    if backend == "postgresql":
        return request.getfixturevalue("postgres_server").new_database()
    return None


@pytest.fixture
def database_url(request) -> str | None:
    """The station's catalog. SQLite here; tests/app parametrizes it over SQLite and
    PostgreSQL (its conftest), so the catalog and service tests run on both."""
    return backend_url(request, getattr(request, "param", "sqlite"))


@pytest.fixture
def station(tmp_path: Path, database_url: str | None):
    st: Station = build_station(make_settings(tmp_path, database_url=database_url))
    start_station(st)
    yield st
    stop_station(st)


@pytest.fixture
def api_server(station):
    from api.server import ApiServer

    server = ApiServer(station, "127.0.0.1", 0).start()
    yield server
    server.stop()


def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05, message: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message or predicate}")


def decode_video(path: str | Path) -> dict:
    """Decode every video frame of a file; return what the tests check."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        pts = [frame.pts for frame in container.decode(stream)]
        return {
            "codec": stream.codec_context.name,
            "frames": len(pts),
            "width": stream.codec_context.width,
            "height": stream.codec_context.height,
            "duration": float(container.duration / 1_000_000) if container.duration else 0.0,
            "first_pts": pts[0] if pts else None,
            "monotonic": all(b > a for a, b in zip(pts, pts[1:])),
        }


def decode_audio(path: str | Path) -> tuple[str, float, int] | None:
    """(codec, seconds of decoded samples, sample rate) of a file's audio, None without."""
    with av.open(str(path)) as container:
        if not container.streams.audio:
            return None
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return stream.codec_context.name, samples / stream.codec_context.sample_rate, \
            stream.codec_context.sample_rate


def md5_of(data: bytes | Path) -> str:
    if isinstance(data, Path):
        data = data.read_bytes()
    return hashlib.md5(data).hexdigest()


def _camera(**kwargs):
    from tests.support.camera import RtspCamera, skip_reason

    reason = skip_reason()
    if reason:
        # `make test` installs the camera's Debian packages: a missing one is a failure, not a skip.
        pytest.fail(f"the GStreamer RTSP test camera is unavailable: {reason}")
    return RtspCamera(**kwargs)


@pytest.fixture(scope="module")
def rtsp_camera_1080p():
    """The camera of the walking-skeleton check: H.264 1080p25, 2 s GOP, 4 Mbit/s. Module
    scope: encoding 1080p live costs a good part of a core, which a session fixture would
    keep spending on its worker until the end of the run."""
    camera = _camera(width=1920, height=1080, fps=25, gop_seconds=2, bitrate_kbps=4000)
    camera.start()
    yield camera
    camera.stop()


@pytest.fixture
def rtsp_camera_small():
    """A light camera of its own (tests may kill and restart it)."""
    camera = _camera(width=640, height=360, fps=25, gop_seconds=1, bitrate_kbps=800, pattern="ball")
    camera.start()
    yield camera
    camera.stop()


@pytest.fixture
def rtsp_camera_pcma():
    """A small camera with G.711 A-law audio, as many IP cameras send."""
    camera = _camera(width=320, height=240, fps=25, gop_seconds=1, bitrate_kbps=400,
                     pattern="ball", audio="pcma")
    camera.start()
    yield camera
    camera.stop()


@pytest.fixture
def snapshot_camera():
    from tests.support.snapshot_camera import SnapshotCamera

    camera = SnapshotCamera().start()
    yield camera
    camera.stop()
