"""Sound through the desktop's own player (ui.playback.sound_pipe), for a PySide6 without
QtMultimedia: raw PCM into a real player process's pipe, never waiting. The "player" here is a
real process reading its standard input (RS_SOUND_COMMAND), as pw-cat, paplay or aplay do."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.conftest import wait_until
from ui.media import PCM_BYTES, PCM_CHANNELS, PCM_RATE
from ui.playback.audio import open_sound_out
from ui.playback.sound_pipe import PLAYERS, PipeSoundOut, player_command

CATCH = ("import os, sys\nout = open(sys.argv[1], 'wb', 0)\n"
         "while (data := os.read(0, 65536)):\n    out.write(data)\n")


def catcher(path: Path) -> list[str]:
    """A player that writes what it is given to `path` as it comes."""
    return [sys.executable, "-c", CATCH, str(path)]


def test_the_configured_player_or_the_first_on_the_path(monkeypatch, tmp_path):
    monkeypatch.setenv("RS_SOUND_COMMAND", f"{sys.executable} -c 'pass' --x")
    assert player_command() == [sys.executable, "-c", "pass", "--x"]
    monkeypatch.delenv("RS_SOUND_COMMAND")
    monkeypatch.setenv("PATH", str(tmp_path))  # none of pw-cat, paplay, aplay
    assert player_command() is None
    fake = tmp_path / "aplay"
    fake.write_text("#!/bin/sh\nexec cat >/dev/null\n")
    fake.chmod(0o755)
    command = player_command()
    assert command[0] == str(fake) and command[1:] == PLAYERS[2][1]
    assert "S16_LE" in command and str(PCM_RATE) in command


def test_pcm_reaches_the_player_whole_and_a_jump_starts_it_again(tmp_path):
    heard = tmp_path / "heard.raw"
    sound = PipeSoundOut(catcher(heard))
    try:
        assert sound.available and sound.room() > 0
        second = bytes(range(256)) * (PCM_RATE * PCM_CHANNELS * PCM_BYTES // 256)  # 1 s
        sent = 0
        deadline = time.monotonic() + 10
        while sent < len(second):  # as the pump does: what the pipe takes, tick after tick
            sent += sound.write(second[sent:sent + sound.room()])
            assert time.monotonic() < deadline
            time.sleep(0.005)
        wait_until(lambda: heard.exists() and heard.stat().st_size == len(second), 5,
                   message="the player got every byte")
        assert heard.read_bytes() == second  # in order, no frame cut or repeated
        sound.reset()  # a jump: a new player, from silence
        assert sound.available and sound.write(b"\x01\x00" * 8) == 16
        wait_until(lambda: heard.stat().st_size == 16, 5, message="a new player")
    finally:
        sound.close()


def test_a_player_that_stops_reading_never_holds_the_caller(tmp_path):
    stuck = PipeSoundOut([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        taken = [stuck.write(b"\x00" * 65536) for _ in range(8)]
        assert 0 < taken[0] <= 65536 and taken[-1] == 0  # full: nothing taken, no wait
        assert all(t % (PCM_CHANNELS * PCM_BYTES) == 0 for t in taken)  # whole frames only
    finally:
        stuck.close()
    gone = PipeSoundOut([sys.executable, "-c", "pass"])
    try:
        wait_until(lambda: gone.write(b"\x00" * 4096) == 0 and not gone.available, 5,
                   message="a player that ended")
        assert "stopped" in gone.why
    finally:
        gone.close()


def test_without_qtmultimedia_the_window_plays_through_the_desktops_player(monkeypatch,
                                                                           tmp_path):
    script, heard = tmp_path / "player.py", tmp_path / "x.raw"
    script.write_text(CATCH)
    monkeypatch.setenv("RS_SOUND_COMMAND", f"{sys.executable} {script} {heard}")
    sound = open_sound_out()
    try:
        try:
            from PySide6 import QtMultimedia  # noqa: F401
        except ImportError:
            assert isinstance(sound, PipeSoundOut) and sound.available
            assert sound.write(b"\x02\x00" * 512) == 1024
            wait_until(lambda: heard.exists() and heard.stat().st_size == 1024, 5,
                       message="the desktop's player got the sound")
    finally:
        sound.close()
