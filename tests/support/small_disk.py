"""A small filesystem of a test's own, to fill up: a tmpfs mounted for the test (needs root;
the test is skipped elsewhere), always unmounted afterwards, and another program's way of
taking its last byte."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

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
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\xa5" * 65536)
                fh.flush()
        except OSError:
            pass
    return filler
