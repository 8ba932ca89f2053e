"""Undo a half-finished `hybrid_fragmented` MP4 finish, so a file whose last writes a full disk
refused still plays.

How FFmpeg lays such a file out while it records (measured with FFmpeg 8):

    ftyp (F bytes) | free (8) | free (8 + F) | moov (fragmented) | mdat | moof mdat | moof mdat ...

and how it finishes one: it appends the last fragment and a complete `moov`, then goes back and
rewrites the 8 bytes at F + 8 (and the 8 at F, for a 64-bit size) into an `mdat` header that
covers everything up to that final `moov`. Only those header bytes change at the start.

With the disk full, the appended `moov` fails (or is cut) while the rewrite at the start, which
needs no new space, succeeds: the file then reads as `ftyp`, then one `mdat` reaching past the
end, and no `moov` at all. Nothing opens it ("moov atom not found"), although every fragment
that reached the disk is intact. CI saw that (tests/e2e/test_disk_filled_by_another_program).

`restore_fragmented_head(path)` checks, after every close, whether the finish is complete (the
`mdat` ends exactly where a `moov` begins that ends the file); if not, it puts the two `free`
headers back and marks a cut-off trailing `moov` as `free`, so the file reads as the fragmented
MP4 it was while recording, as a file left by a crash does.
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

log = logging.getLogger(__name__)


def _box(head: bytes, at: int) -> tuple[int, bytes, int] | None:
    """(size, type, header length) of the box at `at` of `head`, None if it is not there."""
    if at + 8 > len(head):
        return None
    size, kind = struct.unpack(">I4s", head[at:at + 8])
    if size == 1:
        if at + 16 > len(head):
            return None
        return struct.unpack(">Q", head[at + 8:at + 16])[0], kind, 16
    return size, kind, 8


def restore_fragmented_head(path: Path) -> bool:
    """Make a hybrid MP4 whose finish a full disk interrupted readable again; True if it had
    to (False: the file is complete, still fragmented, or not laid out as above)."""
    try:
        with open(path, "r+b") as fh:
            length = os.fstat(fh.fileno()).st_size
            head = fh.read(256)
            ftyp = _box(head, 0)
            if ftyp is None or ftyp[1] != b"ftyp" or not 8 <= ftyp[0] <= 128:
                return False
            f = ftyp[0]
            first_moov = f + 8 + 8 + f  # after the two `free` boxes of the recording layout
            moov = _box(head, first_moov)
            if moov is None or moov[1] != b"moov":
                return False
            mdat_at = f if head[f + 4:f + 8] == b"mdat" else f + 8  # f: a 64-bit size
            mdat = _box(head, mdat_at)
            if mdat is None or mdat[1] != b"mdat":
                return False  # still the recording layout: it plays as it is
            end = mdat_at + mdat[0]
            if end + 8 <= length:
                fh.seek(end)
                tail = _box(fh.read(16), 0)
                if tail is not None and tail[1] == b"moov" and end + tail[0] == length:
                    return False  # finished: a normal MP4
            else:
                tail = None
            fh.seek(f)
            fh.write(struct.pack(">I4s", 8, b"free") + struct.pack(">I4s", 8 + f, b"free"))
            if tail is not None and tail[1] == b"moov":  # a final moov cut short: skip it
                fh.seek(end + 4)
                fh.write(b"free")
    except OSError as exc:
        log.warning("%s: could not check how its finish went: %s", path.name, exc)
        return False
    log.warning("%s: the disk refused the end of the file; it stays a fragmented MP4 "
                "(every fragment written plays)", path.name)
    return True
