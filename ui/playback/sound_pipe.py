"""Sound through the desktop's own player, for a PySide6 without QtMultimedia.

The station ships PySide6-Essentials (QtMultimedia is in the Addons wheel, which would add
about 200 MB to the package), so `QAudioSink` is usually missing. Every Linux desktop has a
command that plays raw PCM from its standard input: PipeWire's `pw-cat`, PulseAudio's
`paplay`, ALSA's `aplay`. `PipeSoundOut` starts the first one found with the format
`ui.media` decodes to (48 kHz, stereo, signed 16-bit little-endian) and writes into its pipe
without ever waiting: the pipe is made small (about 85 ms of sound) and non-blocking, so
`room()` is what the pipe takes now and a full pipe takes nothing (the pump tries again on
its next tick). `reset()` (a jump) drops what the player still holds by starting it again.

`RS_SOUND_COMMAND` names another player (a shell-free command line that reads the same raw
PCM from its standard input), and tests use it to catch what would have been heard.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shlex
import shutil
import subprocess

from ui.media import PCM_BYTES, PCM_CHANNELS, PCM_RATE

PIPE_BYTES = 16384  # ~85 ms of 48 kHz stereo 16-bit: what may be queued past the cursor
ATOMIC = 4096  # PIPE_BUF on Linux, a whole number of frames (4 bytes each)
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)

PLAYERS = (  # (command, its arguments for raw s16le 48 kHz stereo on stdin)
    ("pw-cat", ["--playback", "--rate", str(PCM_RATE), "--channels", str(PCM_CHANNELS),
                "--format", "s16", "-"]),
    ("paplay", ["--raw", f"--rate={PCM_RATE}", f"--channels={PCM_CHANNELS}",
                "--format=s16le"]),
    ("aplay", ["-q", "-t", "raw", "-f", "S16_LE", "-r", str(PCM_RATE), "-c", str(PCM_CHANNELS),
               "-"]),
)


def player_command() -> list[str] | None:
    """The player to start: RS_SOUND_COMMAND, else the first of PLAYERS on the PATH."""
    configured = os.environ.get("RS_SOUND_COMMAND", "").strip()
    if configured:
        return shlex.split(configured)
    for name, args in PLAYERS:
        path = shutil.which(name)
        if path:
            return [path, *args]
    return None


class PipeSoundOut:
    """SoundOut's shape (`available`, `why`, `write`, `room`, `reset`, `close`) over a player
    process's standard input."""

    def __init__(self, command: list[str]):
        self.command = command
        self.available, self.why = False, ""
        self._proc: subprocess.Popen | None = None
        self._start()

    def _start(self) -> None:
        try:
            self._proc = subprocess.Popen(self.command, stdin=subprocess.PIPE,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True)
        except OSError as exc:
            self.available, self.why = False, f"no sound: {self.command[0]} did not start ({exc})"
            self._proc = None
            return
        fd = self._proc.stdin.fileno()
        try:
            fcntl.fcntl(fd, F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:
            pass  # the pipe keeps its size (64 KB): more latency, still sound
        os.set_blocking(fd, False)
        self.available, self.why = True, ""

    def write(self, data: bytes) -> int:
        """What the pipe took of `data`, never waiting: pieces of ATOMIC bytes, each of which
        a non-blocking pipe takes whole or not at all (POSIX, up to PIPE_BUF), so a frame is
        never cut; a full pipe takes nothing."""
        proc = self._proc
        if proc is None or proc.poll() is not None:
            self._gone()
            return 0
        fd, taken = proc.stdin.fileno(), 0
        while taken < len(data):
            piece = data[taken:taken + ATOMIC]
            try:
                os.write(fd, piece)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno in (errno.EPIPE, errno.EBADF):
                    self._gone()
                    break
                raise
            taken += len(piece)
        return taken

    def room(self) -> int:
        """Bytes to offer now: a pipe's worth; `write` reports what it took."""
        return PIPE_BYTES if self.available else 0

    def reset(self) -> None:
        """Drop what the player still holds (a jump): a new player from silence."""
        self.close()
        self._start()

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.stdin.close()
        except OSError:
            pass
        proc.kill()
        proc.wait(timeout=5)

    def _gone(self) -> None:
        if self.available:
            self.available = False
            self.why = f"no sound: {os.path.basename(self.command[0])} stopped (no audio output?)"
