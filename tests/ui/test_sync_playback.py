"""Synchronised playback (#25 item 2) of three cameras against a real catalog and real H.264
files (the camera clip, tests/support/clip.py): A one file, B rotated mid-range (two records
back to back), C with a hole between two records. Each tile's shown frame is judged by its
decoded frame's own time in its file (record begin + frame time), not by the cursor it was
asked for: within one frame (40 ms at 25 fps) of the shared cursor at 1x and at 4x, across
B's rotation; "no recording" on C inside its hole; backward play lands keyframe by keyframe;
the frame steps; the wall-clock labels; the session audited as "play footage"."""

from __future__ import annotations

import shutil
from datetime import datetime, timedelta, timezone

import av
import pytest
from PySide6.QtCore import QBuffer, QIODevice, Qt

from app.audited import AuditedStation
from app.models import Record, Tag
from app.schemas import SourceIn
from tests.conftest import TESTSRC
from tests.support.clip import cached_clip
from ui.application import ensure_application
from ui.media import PCM_BYTES, PCM_CHANNELS, PCM_RATE, AudioReader
from ui.playback.audio import AudioFeed, AudioPump
from ui.playback.sync_playback import SyncPlayback
from ui.playback.tile_feed import epoch
from ui.playback.tile_view import NO_RECORDING, wall_text
from ui.tasks import TaskRunner

FRAME_S = 0.040
T0 = datetime(2026, 12, 7, 10, 0, 0, tzinfo=timezone.utc)


def clip(seconds: float):
    return cached_clip(seconds, width=320, height=180, fps=25, gop_seconds=1.0, bitrate_kbps=300)


@pytest.fixture
def cameras(station, tmp_path):
    """Three sources, their records placed around T0 (file copies of the clip)."""
    ids = [station.sources.create(SourceIn(name=f"cam {n}", uri_rtsp=TESTSRC,
                                           enabled=False)).id for n in "ABC"]
    a, b, c = ids
    layout = [(a, 8, 0.0), (b, 4, 0.0), (b, 4, 4.0), (c, 4, -1.0), (c, 4, 5.0)]
    with station.catalog.session() as s:
        tag = Tag(name="sync")
        s.add(tag)
        s.commit()
        s.refresh(tag)
        for n, (source_id, seconds, start) in enumerate(layout):
            path = tmp_path / f"r{n}.mp4"
            shutil.copyfile(clip(seconds), path)
            begin = T0 + timedelta(seconds=start)
            s.add(Record(id=f"rec{n}", status="finished", tag_id=tag.id, source_id=source_id,
                         begin_utc=begin, end_utc=begin + timedelta(seconds=seconds),
                         location=str(path), station_id=station.station_id))
        s.commit()
    return ids


@pytest.fixture
def player(qtbot, station):
    ensure_application()
    tasks = TaskRunner()
    widget = SyncPlayback(AuditedStation(station, who="tester"), tasks)
    qtbot.addWidget(widget)
    widget.resize(960, 600)
    widget.show()
    yield widget
    widget.shutdown()
    tasks.shutdown()


def open_at(qtbot, player, ids, at: datetime, play: bool) -> None:
    with qtbot.waitSignal(player.opened, timeout=5000):
        player.play_sources(ids, at, play=play)


def shown_offsets(player, at: float) -> dict[int, float]:
    """Each tile outside a gap: its shown frame's wall time (begin + frame time) - cursor."""
    moment = datetime.fromtimestamp(at, timezone.utc)
    out = {}
    for source in player.plan.sources:
        tile = player.tiles[source.source_id]
        if not source.in_gap(moment) and tile.frame is not None:
            out[source.source_id] = tile.frame.wall - at
    return out


def watch(qtbot, player, until: float) -> list[tuple]:
    """(cursor, offsets, labels, record ids) at every tick until the cursor passes `until`."""
    seen = []

    def on_tick(at: float) -> None:
        seen.append((at, shown_offsets(player, at),
                     {sid: tile.wall_label for sid, tile in player.tiles.items()},
                     {sid: tile.frame.record_id for sid, tile in player.tiles.items() if tile.frame}))

    player.ticked.connect(on_tick)
    try:
        qtbot.waitUntil(lambda: bool(seen) and seen[-1][0] >= until, timeout=8000)
    finally:
        player.ticked.disconnect(on_tick)
    return seen


def test_three_cameras_stay_within_a_frame_at_1x_and_4x(qtbot, station, cameras, player):
    a, b, c = cameras
    start = T0 + timedelta(seconds=1)
    open_at(qtbot, player, cameras, start, play=False)
    # every tile lands on the instant: the frame at or before it
    qtbot.waitUntil(lambda: all(t.frame for t in player.tiles.values()), timeout=5000)
    for tile in player.tiles.values():
        assert 0 <= epoch(start) - tile.frame.wall < FRAME_S
        assert tile.wall_label == wall_text(tile.frame.wall)
    # the label is the record's begin + the decoded frame's time in its file
    tile_a = player.tiles[a]
    assert tile_a.wall_label == wall_text(epoch(T0) + tile_a.frame.time)
    assert tile_a.frame.record_id == "rec0"

    player.forward()  # 1x
    ones = watch(qtbot, player, epoch(T0) + 2.2)
    player.set_speed(4.0)
    fours = watch(qtbot, player, epoch(T0) + 7.5)
    for label, seen in (("1x", ones), ("4x", fours)):
        checked = [(at, off) for at, offsets, *_ in seen for off in offsets.values()]
        assert len(checked) > 30, label
        worst = max(abs(off) for _at, off in checked)
        late = [(round(at - epoch(T0), 3), round(off, 3)) for at, off in checked
                if not -FRAME_S - 0.001 <= off <= 0.001]
        assert not late, f"{label}: tiles off the cursor by more than a frame: {late[:10]}"
        print(f"{label}: {len(checked)} tile samples, worst {worst * 1000:.1f} ms")
    # B went on into its second file at the rotation (in step: checked above)
    b_records = [records[b] for at, _, _, records in fours]
    assert "rec1" in b_records and "rec2" in b_records
    assert b_records.index("rec2") > len(b_records) - 1 - b_records[::-1].index("rec1")
    # C showed its hole as "no recording", and its pictures again after it
    gap_labels = [labels[c] for at, _, labels, _ in fours if 3.05 < at - epoch(T0) < 4.95]
    assert gap_labels and set(gap_labels) == {NO_RECORDING}
    after = [labels[c] for at, _, labels, _ in fours if 5.2 < at - epoch(T0)]
    assert after and NO_RECORDING not in after
    print(f"cursor held for the slowest tile on {player.held_ticks} ticks")
    # the session was audited once
    qtbot.waitUntil(lambda: any(e.action == "play footage" for e in station.audit.entries()),
                    timeout=5000)


def test_backward_steps_keyframes_and_frame_steps(qtbot, station, cameras, player):
    a, _b, _c = cameras
    start = T0 + timedelta(seconds=3.5)
    open_at(qtbot, player, [a], start, play=False)
    tile = player.tiles[a]
    qtbot.waitUntil(lambda: tile.frame is not None, timeout=5000)
    assert abs(tile.frame.time - 3.48) < 0.001  # the frame at or before 3.5 s
    # frame step forward and back, on the decoded frames' own times
    player.step_forward()
    qtbot.waitUntil(lambda: abs(tile.frame.time - 3.52) < 0.001, timeout=3000)
    player.step_back()
    qtbot.waitUntil(lambda: tile.frame is not None and abs(tile.frame.time - 3.48) < 0.001,
                    timeout=3000)
    player.step_back()
    qtbot.waitUntil(lambda: tile.frame is not None and abs(tile.frame.time - 3.44) < 0.001,
                    timeout=3000)
    # J: backward keyframe by keyframe (the clip has one every second)
    times, keys = [], []

    def on_tick(_at: float) -> None:  # the pictures shown since J turned the workers back
        if tile.frame is not None and tile.frame.generation == turned \
                and (not times or times[-1] != tile.frame.time):
            times.append(tile.frame.time)
            keys.append(tile.frame.key)

    for _ in range(2):  # J, then twice as fast: 2x
        qtbot.keyClick(player, Qt.Key.Key_J)
    assert player.clock.rate == -2.0
    turned = player.feeds[a].generation
    player.ticked.connect(on_tick)
    qtbot.waitUntil(lambda: len(times) >= 3, timeout=6000)
    qtbot.keyClick(player, Qt.Key.Key_K)
    # the keyframe at or before the cursor (3.0 s), then each previous one (one a second)
    assert times[0] in (3.0, 2.0), times  # 2.0: the first tick came after the cursor left 3 s
    assert all(round(later - earlier, 6) == -1.0 for earlier, later in zip(times, times[1:3])), times
    assert all(keys[:3]), "backward shows keyframes only"
    # K: paused where the cursor was, the tile on the very frame at or before it
    stopped, feed = player.clock.instant(), player.feeds[a]
    qtbot.waitUntil(lambda: tile.frame.generation == feed.generation, timeout=3000)
    assert 0 <= stopped - tile.frame.wall < FRAME_S


def test_play_from_here_opens_the_layout_then_jumps_the_open_session(qtbot, station, cameras):
    """An event's or a bookmark's "Play from here (all cameras)": with no session open, the
    cameras of the groups holding its camera; with one open, every tile jumps there."""
    from app.schemas import GroupIn
    from ui.playback.launcher import PlaybackLauncher

    a, b, c = cameras
    group = station.groups.create(GroupIn(name="entrance"))
    for source_id in (a, b):
        station.groups.add_source(group.id, source_id)
    ensure_application()
    tasks, reports = TaskRunner(), []
    launcher = PlaybackLauncher(AuditedStation(station, who="tester"), tasks,
                                lambda text, error=False: reports.append(text), None)
    try:
        launcher.play_from_here(b, T0 + timedelta(seconds=2))
        qtbot.waitUntil(lambda: launcher.window is not None and launcher.window.plan is not None,
                        timeout=5000)
        window = launcher.window
        assert [s.source_id for s in window.plan.sources] == [b, a]
        window.pause()
        launcher.play_from_here(c, T0 + timedelta(seconds=6))  # c joins the open session
        qtbot.waitUntil(lambda: window.plan is not None and len(window.tiles) == 3, timeout=5000)
        assert [s.source_id for s in window.plan.sources] == [b, a, c]
        qtbot.waitUntil(lambda: all(t.frame and t.frame.generation == window.feeds[sid].generation
                                    for sid, t in window.tiles.items()), timeout=5000)
        for tile in window.tiles.values():
            assert abs(tile.frame.wall - epoch(T0 + timedelta(seconds=6))) < 0.1
        assert not reports
        qtbot.waitUntil(lambda: len([e for e in station.audit.entries()
                                     if e.action == "play footage"]) == 2, timeout=5000)
        # a group's (or the wall's) cameras: the instant asked first
        from PySide6.QtCore import QDateTime
        launcher.ask_and_play([c, a])
        launcher.dialog.edit.setDateTime(QDateTime.fromSecsSinceEpoch(int(epoch(T0)) + 7))
        launcher.dialog.accept()
        qtbot.waitUntil(lambda: window.plan is not None and len(window.tiles) == 2, timeout=5000)
        assert [s.source_id for s in window.plan.sources] == [c, a]
        qtbot.waitUntil(lambda: all(t.frame for t in window.tiles.values()), timeout=5000)
        assert all(abs(t.frame.wall - (epoch(T0) + 7)) < 0.5 for t in window.tiles.values())
    finally:
        launcher.shutdown()
        tasks.shutdown()


class BufferSound:
    """The sound device where there is none (headless, no QtMultimedia): a QBuffer that takes
    everything, in SoundOut's shape."""

    def __init__(self):
        self.available, self.why = True, ""
        self.device = QBuffer()
        self.device.open(QIODevice.OpenModeFlag.ReadWrite)

    def write(self, data: bytes) -> int:
        return int(self.device.write(data))

    def room(self) -> int:
        return 1 << 20

    def reset(self) -> None:
        self.device.buffer().clear()
        self.device.seek(0)

    def close(self) -> None:
        self.device.close()


def test_the_selected_tiles_sound_plays_at_1x_and_mutes(qtbot, station, tmp_path):
    from tests.support.sound_clip import clip_with_sound

    source_id = station.sources.create(SourceIn(name="hall", uri_rtsp=TESTSRC, enabled=False)).id
    path = clip_with_sound(tmp_path / "hall.mp4", 3, size=(160, 90))
    with station.catalog.session() as s:
        tag = Tag(name="sound")
        s.add(tag)
        s.commit()
        s.refresh(tag)
        s.add(Record(id="hall", status="finished", tag_id=tag.id, source_id=source_id,
                     begin_utc=T0, end_utc=T0 + timedelta(seconds=3), location=str(path),
                     station_id=station.station_id))
        s.commit()
    ensure_application()
    tasks = TaskRunner()
    player = SyncPlayback(AuditedStation(station), tasks, sound_out=BufferSound)
    qtbot.addWidget(player)
    try:
        open_at(qtbot, player, [source_id], T0 + timedelta(seconds=0.5), play=True)
        sound = player._sound
        second = PCM_RATE * PCM_CHANNELS * PCM_BYTES
        qtbot.waitUntil(lambda: sound.device.size() >= 0.25 * second, timeout=5000)
        assert abs(player.sound_from - (epoch(T0) + 0.5)) < 0.1  # from the cursor
        assert sound.device.size() <= 2.5 * second + 4096  # what is left of the track from 0.5 s
        player.controls.mute_button.click()
        assert player._audio is None and player.controls.mute_button.text() == "Muted"
        size = sound.device.size()
        for _ in range(3):
            qtbot.waitSignal(player.ticked, timeout=1000).wait()
        assert sound.device.size() == size
        player.controls.mute_button.click()
        qtbot.waitUntil(lambda: player._audio is not None and sound.device.size() > size,
                        timeout=5000)
        player.set_speed(2.0)  # sound plays at 1x only
        assert player._audio is None
    finally:
        player.shutdown()
        tasks.shutdown()


def test_sound_is_decoded_from_the_instant_and_pumped(tmp_path, qtbot):
    """The AAC track decoded with PyAV from an instant into 48 kHz stereo PCM, and written
    into a device (a QBuffer here: this PySide6 has no QtMultimedia, so QAudioSink itself is
    not exercised)."""
    path = tmp_path / "sound.mp4"
    with av.open(str(path), "w") as out, \
            av.open("sine=frequency=440:sample_rate=48000:duration=3", format="lavfi") as src:
        stream = out.add_stream("aac", rate=48000)
        for frame in src.decode(audio=0):
            frame.pts = None
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    reader = AudioReader(path)
    reader.seek(1.25)
    first = reader.next()
    assert abs(first.time - 1.25) < 0.001
    total = first.seconds
    while (chunk := reader.next()) is not None:
        total += chunk.seconds
    reader.close()
    assert 1.6 < total < 1.9  # the rest of a 3 s track from 1.25 s

    from app.recordings.playback_plan import Segment, SourcePlan
    segment = Segment(id="s", source_id=1, begin=T0, end=T0 + timedelta(seconds=3),
                      location=str(path), station=None, tag_name=None, live=False)
    feed = AudioFeed(SourcePlan(1, "cam", [segment], []), lambda s: s.location, epoch(T0) + 2.0)
    device = QBuffer()
    device.open(QIODevice.OpenModeFlag.ReadWrite)
    pump = AudioPump(lambda data: int(device.write(data)), lambda: 1 << 20)
    chunks = []
    qtbot.waitUntil(lambda: chunks.extend(feed.chunks()) or
                    sum(len(c.data) for c in chunks) >= 0.9 * PCM_RATE * PCM_CHANNELS * PCM_BYTES,
                    timeout=5000)
    feed.stop()
    assert abs(chunks[0].wall - (epoch(T0) + 2.0)) < 0.001
    for chunk in chunks:
        pump.feed(chunk.data)
    pump.pump()
    assert device.size() == pump.written == sum(len(c.data) for c in chunks)
