"""Power-loss durability, checked in the page cache itself: with `set_fsync_s` on, an open
recording has no dirty pages left a moment after its last write (the kernel's flags, read
from /proc/kpageflags as root), while the same camera recorded without it still has; a
closed file is synced too. The fsync runs on a thread of its own, never the reader's."""

from __future__ import annotations

import ctypes
import mmap
import os
import threading

import pytest

from recorder.manager import RecorderManager
from recorder.worker import SourceSpec
from tests.conftest import _camera, wait_until
from tests.support.clip import cached_clip

pytestmark = pytest.mark.rtsp
KPF_DIRTY = 4
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]


def dirty_pages(path) -> int:
    """Pages of the file that the page cache holds dirty (not yet on the disk)."""
    size, page = os.path.getsize(path), mmap.PAGESIZE
    fd = os.open(path, os.O_RDONLY)
    addr = _libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
    dirty = 0
    try:
        with open("/proc/self/pagemap", "rb") as pagemap, open("/proc/kpageflags", "rb") as flags:
            for i in range(size // page):
                ctypes.c_char.from_address(addr + i * page).value  # map it (reads, never dirties)
                pagemap.seek((addr // page + i) * 8)
                entry = int.from_bytes(pagemap.read(8), "little")
                if entry >> 63 & 1:  # present: its frame number is readable as root
                    flags.seek((entry & ((1 << 55) - 1)) * 8)
                    dirty += int.from_bytes(flags.read(8), "little") >> KPF_DIRTY & 1
    finally:
        _libc.munmap(addr, size)
        os.close(fd)
    return dirty


@pytest.mark.skipif(os.geteuid() != 0, reason="page flags are readable by root only")
def test_open_recordings_are_fsynced_periodically_off_the_reader_thread(tmp_path):
    clip = cached_clip(60, width=640, height=360, fps=25, gop_seconds=2, bitrate_kbps=1000)
    camera = _camera(clip=clip).start()
    synced, plain = RecorderManager(), RecorderManager()  # the second one: the control
    synced.set_fsync_s(0.25)
    fsync_threads: set[str] = set()
    real_fsync = os.fsync

    def spy(fd):
        fsync_threads.add(threading.current_thread().name)
        return real_fsync(fd)
    try:
        for manager in (synced, plain):
            manager.ensure_source(SourceSpec(1, "clip", camera.url))
        wait_until(lambda: all(m.status(1)[0] == "online" for m in (synced, plain)), 20,
                   message="online")
        os.fsync = spy
        synced.start_recording(1, "s", tmp_path / "s.mp4")
        plain.start_recording(1, "p", tmp_path / "p.mp4")
        # recording for eight passes of the fsync thread (2 s at 0.25 s)
        wait_until(lambda: synced._syncer.passes >= 8, 10, message="8 fsync passes")
        for manager, record_id in ((synced, "s"), (plain, "p")):
            manager.pause_recording(1, record_id)  # the file stays open, nothing is written
        paused_at = synced._syncer.passes  # the next pass may have begun before the pause
        wait_until(lambda: synced._syncer.passes >= paused_at + 2, 5,
                   message="a whole fsync pass since the synced file's last writes")
        assert dirty_pages(tmp_path / "s.mp4") == 0
        assert dirty_pages(tmp_path / "p.mp4") > 0  # the control: written, not yet on disk
        assert fsync_threads == {"fsync"}  # never a reader thread ("source-1")
        recording = synced._workers[1]._recordings["s"]
        written = recording.packets
        for manager, record_id in ((synced, "s"), (plain, "p")):
            manager.resume_recording(1, record_id)
        # written again from the next keyframe on (the clip's GOP: 2 s), a second of it
        wait_until(lambda: recording.packets >= written + 25, 10, message="written again")
        result = synced.stop_recording(1, "s")  # closing syncs the finished file too
        assert result.error is None and dirty_pages(result.path) == 0
        synced.set_fsync_s(0)
        wait_until(lambda: not synced._syncer._thread.is_alive(), 3, message="fsync thread ends")
    finally:
        os.fsync = real_fsync
        synced.shutdown()
        plain.shutdown()
        camera.stop()
