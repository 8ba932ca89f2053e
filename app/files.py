"""Files on the station's disks: a portable name, a file's size as it is now, a rename made
durable. Recordings, exports, photos, uploads and sync targets all name and file them so."""

from __future__ import annotations

import os
import re
from pathlib import Path


def safe_name(name: str) -> str:
    """A file or folder name made of portable characters only: no separators, no `..`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "untitled"


def file_size(path: str | Path | None) -> int:
    """Bytes of a record's file as it is now; 0 when there is none (deleted, never written)."""
    try:
        return Path(path).stat().st_size if path else 0
    except OSError:
        return 0


def fsync_dir(folder: Path) -> None:
    """Make a rename inside `folder` durable (POSIX; elsewhere the rename is all there is)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
