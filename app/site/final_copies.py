"""Filing a verified copy without ever replacing a file: the final name is claimed atomically
(a hard link fails when the name exists, `O_EXCL` where the file system has no hard links),
so two writers racing for one name never overwrite each other, and the copy is then
write-protected. Used by both ends of a sync: the upload endpoint and the folder target.

A check such as `exists()` followed by `os.replace` is exactly the race this replaces: both
writers see the name free, and the second rename silently replaces the first copy.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from recorder.mp4file import file_md5

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
BINARY = getattr(os, "O_BINARY", 0)
# link() is not supported here (FAT/exFAT backup drives, some network shares): fall back to
# claiming the name with O_EXCL, then renaming over our own empty placeholder.
NO_HARD_LINKS = {errno.EPERM, errno.EXDEV, errno.ENOSYS, errno.EMLINK,
                 getattr(errno, "ENOTSUP", errno.EPERM), getattr(errno, "EOPNOTSUPP", errno.EPERM)}


def place_new(src: Path, dst: Path) -> None:
    """Move `src` to `dst` only if no file is at `dst`: raises FileExistsError (and leaves
    `src` where it is) when the name is taken, however close the other writer came."""
    try:
        os.link(src, dst, follow_symlinks=False)
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in NO_HARD_LINKS:
            raise
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | BINARY, 0o600)
        os.close(fd)
        os.replace(src, dst)  # over our own placeholder only
        return
    os.unlink(src)


def write_protect(path: Path) -> None:
    """Drop every write bit: the copy stays as verified (its MD5 stays true)."""
    mode = stat.S_IMODE(os.lstat(path).st_mode)
    os.chmod(path, mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def same_file(path: Path, md5: str) -> bool:
    """`path` is a regular file (not a link planted there) whose content hashes to `md5`."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return False
        return file_md5(path) == md5
    except OSError:
        return False


def fingerprint(path: Path) -> dict[str, int]:
    """What identifies the very file a verified MD5 belongs to (inode, size, mtime)."""
    st = os.lstat(path)
    return {"ino": st.st_ino, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def open_part(path: Path, *, append: bool) -> int:
    """A `.part` file for writing, owner-only, never through a symbolic link planted at its
    name (which would send the bytes elsewhere)."""
    flags = os.O_WRONLY | os.O_CREAT | NOFOLLOW | BINARY | (os.O_APPEND if append else 0)
    return os.open(path, flags, 0o600)
