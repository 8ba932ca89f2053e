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
from tests.support.catalog_template import seed_catalog

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# No test reads or writes the operator's config folder or keyring: the config file (absent)
# and the credentials key file (app.credentials) go to a temporary folder of this run.
os.environ.setdefault("RS_CONFIG_FILE", str(Path(tempfile.mkdtemp(prefix="rs-test-config-"))
                                            / "recording-station.toml"))
os.environ.setdefault("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")

TESTSRC = "testsrc://testsrc2?size=320x240&rate=25&gop=1"
# The same pattern at 5 fps, a third of the CPU (an encoder, a tile's decoder and motion
# analysis per source): for tests that need a live source but count no frames (the GUI's
# dialogs and panels); those that check rates or frame counts keep TESTSRC.
TESTSRC_5FPS = "testsrc://testsrc2?size=320x240&rate=5&gop=1"

# End-to-end runs of real station processes (tests/e2e), real attacks on real station processes
# (tests/security), and single tests elsewhere that run for a minute or more.
SYSTEM_FOLDERS = ("tests/e2e/", "tests/security/")
# The slow criterion: a test that takes ~4 s or more of real time in the parallel run on this
# 2-core machine (per-test times of five `make test-fast` runs at load averages 6-20, README
# "Tests") because it records footage and plays, rolls, cuts or decodes it back, stops and
# starts a camera, a server or a station process, or runs a timeout or an idle limit out; none
# can be made shorter without weakening what it asserts. Together they were two thirds of
# `make test-fast`'s test time, which kept the inner loop above its 3 minutes (5-6 min).
# `make test` runs them; `make test-fast` not.
# A module named whole: every test of it is slow by that measure (or shares its slow fixture).
SLOW_MODULES = (
    "tests/ui/test_site_gui.py::",  # two real station processes per test, one killed
    "tests/ui/test_timeline.py::",  # records 2-6 s of footage per test, then plays it
    "tests/ui/test_tile_rate.py::",  # counts painted frames over seconds
    "tests/ui/test_retry_on_open.py::",  # a camera down then up, the retry waited out
    "tests/ui/test_site_key_gui.py::",  # a second station's catalog on another key
    "tests/recorder/test_clip_camera.py::",  # the clip camera serves whole clips
    "tests/recorder/test_disk_full.py::",  # a small disk filled by recording
    "tests/recorder/test_pause_mute.py::",  # seconds paused and muted inside one file
    "tests/recorder/test_fsync.py::",  # periodic fsyncs counted over seconds
    "tests/recorder/test_file_source.py::",  # a looped file recorded across its loop
)
# Single tests (a prefix of the node id: every parametrization of a test).
SLOW_TESTS = (
    # real station processes, stopped and started
    "tests/app/test_self_test.py::test_self_test_records_downloads_and_decodes_",
    "tests/app/test_stations.py::test_a_source_moves_to_another_station",
    # a camera, a server, a connection stopped and started, or an unreachable address waited out
    "tests/recorder/test_reconnect.py::test_recording_continues_in_the_same_file_within_2_s_",
    "tests/recorder/test_forward.py::test_a_source_is_forwarded_live_and_survives_a_server_",
    "tests/recorder/test_recorder.py::test_camera_restart_continues_the_same_file_with_a_gap",
    "tests/api/test_discovery.py::test_a_server_that_is_not_onvif_reads_as_unreachable",
    "tests/api/test_discovery.py::test_unreachable_camera_is_a_422_on_address",
    "tests/api/test_sync.py::test_a_broken_and_then_stopped_sync_resumes_from_the_receivers_",
    "tests/app/test_sync_service.py::test_a_folder_sync_stopped_midway_resumes_without_sending_",
    "tests/app/test_sync_service.py::test_a_copy_that_does_not_verify_leaves_sync_location_empty",
    "tests/app/test_catalog_unwritable.py::test_a_rollover_the_catalog_cannot_take_loses_no_file",
    "tests/app/test_catalog_unwritable.py::test_a_stop_the_catalog_cannot_take_is_shown_at_once_",
    "tests/ui/test_tile_streams.py::test_a_tile_follows_its_source_gaining_and_losing_a_preview",
    "tests/ui/test_tile_streams.py::test_a_tile_whose_preview_is_down_shows_the_main_stream",
    # a timeout, an idle limit or a retention age run out
    "tests/api/test_huawei_live.py::test_recording_ends_after_the_interruption_window_",
    "tests/api/test_huawei_rtc.py::test_max_idle_time_stops_the_job_and_keeps_its_file",
    "tests/app/test_retention.py::test_a_record_being_synced_is_spared",
    "tests/app/test_retention.py::test_a_sources_and_a_tags_retention_days_override_the_stations",
    "tests/app/test_mode_ownership.py::test_a_motion_record_begins_motion_pre_s_before_the_motion",
    "tests/ui/test_settings_dialog.py::test_security_settings_are_saved_and_the_guard_uses_them_",
    "tests/ui/test_source_dialogs.py::test_local_camera_none_found_is_said_and_nothing_is_stored",
    # footage recorded for seconds, then decoded, rolled over, exported or played back
    "tests/recorder/test_recorder.py::test_rtsp_recording_starts_at_preroll_keyframe_and_is_stream",
    "tests/recorder/test_rotation.py::test_copy_and_reencoded_recordings_roll_over_without_losing_",
    "tests/recorder/test_rtsp_client.py::test_cameras_the_station_does_not_read_itself_are_read_by",
    "tests/recorder/test_rtsp_client.py::test_h264_with_aac_is_read_by_the_station_and_recorded_by",
    "tests/recorder/test_rtsp_client.py::test_h265_is_read_by_the_station_and_recorded_by_copy",
    "tests/recorder/test_transcode.py::test_g711_audio_becomes_aac_and_an_drops_it",
    "tests/recorder/test_transcode.py::test_udp_transport_is_selectable",
    "tests/recorder/test_http_inputs.py::test_mjpeg_over_http_is_recorded",
    "tests/recorder/test_preroll.py::test_preroll_changes_on_a_running_source_and_respects_the_byt",
    "tests/recorder/test_preview_stream.py::test_tiles_get_the_sub_stream_and_recording_uses_the_m",
    "tests/api/test_export.py::test_export_copies_the_packets_across_a_file_boundary",
    "tests/api/test_huawei_rtc.py::test_is_record_audio_false_leaves_the_audio_out",
    "tests/api/test_huawei_rtc.py::test_publish_param_forwards_live_to_rtmp",
    "tests/api/test_device_connect_sdk.py::test_mute_is_a_track_state_in_any_recorder_state",
    "tests/api/test_device_connect_sdk.py::test_resume_when_not_paused_and_pause_when_not_recordin",
    "tests/api/test_timeline.py::test_has_footage_is_the_services_word_for_records_and_spans",
    "tests/api/test_timeline.py::test_spans_across_records_gaps_and_bookmarks",
    "tests/app/test_catalog_services.py::test_start_stop_records_files_and_events",
    "tests/app/test_record_start.py::test_file_names_carry_the_utc_begin_whatever_the_zone",
    "tests/ui/test_recordings.py::test_filters_by_tag_source_status_and_date",
    "tests/ui/test_recordings.py::test_play_shows_moving_frames_and_pause_holds",
    "tests/ui/test_recordings.py::test_player_survives_a_broken_file_and_plays_a_cut_one",
    "tests/ui/test_recordings.py::test_rtsp_camera_recording_plays_and_steps",
    "tests/ui/test_recordings.py::test_scrub_lands_on_a_keyframe_and_step_advances_one_frame",
    "tests/ui/test_recordings.py::test_sync_to_a_folder_shows_progress_and_sets_sync_location",
    "tests/ui/test_bookmark_list.py::test_listed_searched_and_a_double_click_plays_that_instant",
    "tests/ui/test_events_panel.py::test_a_double_click_plays_the_moment_of_the_event",
    "tests/ui/test_events_panel.py::test_the_timeline_draws_a_strip_of_the_events",
    "tests/ui/test_export_dialog.py::test_context_menu_prefills_and_export_writes_the_file",
    "tests/ui/test_storage_ui.py::test_the_lock_column_protects_a_record_from_retention",
    "tests/ui/test_source_dialogs.py::test_a_preview_stream_gets_the_cameras_login_and_keeps_it_",
    "tests/ui/test_source_dialogs.py::test_snapshot_camera_with_digest_auth_and_edit_keeps_its_",
    "tests/ui/test_source_dialogs.py::test_rtsp_camera_with_credentials_then_edit_keeps_the_masked",
    "tests/ui/test_recordings.py::test_plays_a_file_still_being_recorded",
    "tests/ui/test_camera_lost_tile.py::test_a_camera_stopped_while_recording_shows_lost_and_comes",
    "tests/api/test_native_hardening.py::test_every_route_takes_an_optional_trailing_slash",
    "tests/api/test_sync.py::test_sync_to_another_station_is_verified_at_the_far_end",
    "tests/app/test_stations.py::test_each_station_syncs_and_offers_only_what_is_on_its_disk",
    "tests/api/test_metrics.py::test_a_camera_that_reboots_counts_a_reconnect",
    "tests/recorder/test_rotation.py::test_a_stop_while_the_core_has_not_heard_of_the_new_file_",
    "tests/api/test_rollover_dialects.py::test_a_sparkrtc_job_follows_its_recording_to_each_file",
    "tests/recorder/test_transcode.py::test_ffmpeg_cmd_is_applied_to_the_recording",
    "tests/api/test_huawei_rtc.py::test_select_stream_type_scales_the_record",
    "tests/ui/test_bookmark_list.py::test_export_around_from_the_list_and_the_timeline_and_delete",
    "tests/ui/test_export_dialog.py::test_cancel_stops_and_leaves_no_file",
    "tests/ui/test_source_dialogs.py::test_test_pattern_added_through_the_dialog_records_with_",
    "tests/ui/test_recordings.py::test_lists_records_with_duration_size_md5_state_and_thumbnail",
    "tests/api/test_metrics.py::test_written_packets_and_bytes_follow_the_recording_and_match_",
    "tests/api/test_discovery.py::test_suggested_uris_open_with_the_login",
    "tests/recorder/test_rtsp_client.py::test_credentials_in_the_url_answer_basic_and_digest",
    "tests/recorder/test_rtsp_client.py::test_a_watched_camera_shows_every_frame_evenly_",
    "tests/recorder/test_recorder.py::test_frames_follow_demand",
    "tests/recorder/test_preroll.py::test_a_start_may_ask_for_more_preroll_than_the_setting_",
    "tests/recorder/test_transcode.py::test_rtc_level_scales_and_copy_stays_untouched",
    "tests/app/test_record_modes.py::test_motion_records_while_a_motion_event_is_open_and_for_",
    "tests/app/test_record_keeping.py::test_a_protected_running_recording_stays_protected_across_",
    "tests/api/test_huawei_rtc.py::test_jobs_survive_a_restart_and_a_crash_leaves_them_stopped",
    "tests/api/test_rollover_dialects.py::test_device_connect_stop_answers_with_the_last_file_",
    "tests/api/test_rollover_dialects.py::test_huawei_live_reports_each_file",
    # motion analysis: a station process, or scenes decoded and analysed for seconds
    "tests/app/test_motion_service.py::test_the_walking_box_opens_and_closes_a_motion_event",
    "tests/app/test_motion_service.py::test_a_camera_that_goes_silent_in_motion_has_its_motion_",
    "tests/recorder/test_analysis_input.py::test_preview_stream_feeds_analysis_at_its_rate_",
    "tests/recorder/test_analysis_input.py::test_without_preview_main_keyframes_feed_analysis_",
    "tests/ui/test_motion_gui.py::test_a_wall_that_updates_on_motion_rests_its_tiles_until_motion",
    "tests/vision/test_scenes.py::test_scenes_without_a_visitor_give_no_event",
)
SYSTEM_TESTS = ("tests/api/test_openapi.py::test_live_station_conforms_to_its_document",
                "tests/api/test_openapi.py::test_invalid_requests_are_refused_in_the_",
                *SLOW_MODULES, *SLOW_TESTS)


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
    # The long tests first: xdist hands work out in collection order, so a long end-to-end
    # test collected last kept one worker busy minutes after the others ran dry (the suite
    # ends when its last test does). A stable sort: the order within each kind is kept.
    items.sort(key=lambda item: item.get_closest_marker("system") is None)


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
    settings = Settings(data_dir=tmp_path / "data", port=0, demo=False, disk_floor_mb=0, **extra)
    if not extra.get("database_url"):  # its own SQLite file: a copy of a migrated one
        seed_catalog(settings.data_dir)
    return settings


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


# --- where the suite's CPU goes (RS_TEST_CPU_REPORT=<file>: one line per test) ----------------
if os.environ.get("RS_TEST_CPU_REPORT"):
    import resource

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_protocol(item):
        """CPU seconds of each test, setup and teardown included: the worker's own and its
        children's (station processes, cameras) once they were reaped, with the wall time."""
        def cpu() -> float:
            own = resource.getrusage(resource.RUSAGE_SELF)
            kids = resource.getrusage(resource.RUSAGE_CHILDREN)
            return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

        wall, before = time.monotonic(), cpu()
        yield
        with open(os.environ["RS_TEST_CPU_REPORT"], "a") as report:
            report.write(f"{cpu() - before:.2f}\t{time.monotonic() - wall:.2f}\t{item.nodeid}\n")
