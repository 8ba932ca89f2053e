"""A small filesystem of a test's own, to fill up: a tmpfs mounted for the test (needs root;
the test is skipped elsewhere), always unmounted afterwards, and another program's way of
taking its last byte, and what of a file cut off by it still decodes."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import av
import pytest


@contextmanager
def small_tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """`folder` (created) with a tmpfs of `size` (`12m`, `1536k`) mounted on it."""
    folder.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def fill_up(folder: Path, name: str = "another-program.bin") -> Path:
    """Another program takes every last byte of the filesystem; returns its file."""
    filler = folder / name
    with open(filler, "wb", buffering=0) as fh:  # unbuffered: nothing left to flush at close
        try:
            while True:
                fh.write(b"\xa5" * 65536)
                fh.flush()
        except OSError:
            pass
    return filler


def decodable_frames(path: str | Path) -> int:
    """Frames of a file that decode, up to the packet a full disk cut short."""
    count = 0
    with av.open(str(path)) as container:
        try:
            for _ in container.decode(video=0):
                count += 1
        except av.InvalidDataError:
            pass  # the packet the disk had no room for
    return count
