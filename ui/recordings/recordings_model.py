"""The table behind the recordings browser: one row per record, with a lock (protected from
retention; the operator toggles it), a thumbnail of its first keyframe, its tag, source,
begin, duration, size, status (a deleted record says when and why), the outages inside its
file (gaps), MD5 state and sync location.

Rows are built off the GUI thread (the catalog query and a look at each file); thumbnails
are decoded one at a time on the task runner and kept for the session, so scrolling and
reloading never decode a file twice. A record still recording shows its duration and size
growing, from a one-second tick that only looks at those rows' files.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QSize, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

from app.schemas import RecordOut, RecordStatus
from ui.icons import icon
from ui.media import MediaTarget, first_keyframe
from ui.recordings.player import clock, rgb_image
from ui.mode_marks import is_mode_record, mode_tip
from ui.tasks import TaskRunner

THUMB = QSize(80, 45)
COLUMNS = ("", "Preview", "Tag", "Source", "Station", "Begin", "Duration", "Size", "Status",
           "Gaps", "MD5", "Synced to")
(COL_LOCK, COL_THUMB, COL_TAG, COL_SOURCE, COL_STATION, COL_BEGIN, COL_DURATION, COL_SIZE,
 COL_STATUS, COL_GAPS, COL_MD5, COL_SYNC) = range(len(COLUMNS))
STATUS_COLOURS = {RecordStatus.recording: "#e53e3e", RecordStatus.finished: "#38a169",
                  RecordStatus.interrupted: "#d69e2e", RecordStatus.failed: "#c53030",
                  RecordStatus.deleted: "#718096"}
MD5_COLOURS = {"verified": "#38a169", "missing": "#d69e2e", "recording": "#e53e3e"}
RECORD_ROLE = Qt.ItemDataRole.UserRole + 1


@dataclass
class RecordRow:
    """A record as the browser shows it: the catalog's fields plus what its file looks like."""

    record: RecordOut
    present: bool       # the file is on disk
    file_size: int      # bytes on disk now (grows while recording)
    station: str = ""   # the name of the station whose disk holds it
    remote: bool = False  # on another station's disk: the catalog's word, no look at a file

    @classmethod
    def of(cls, record: RecordOut, station: str = "", remote: bool = False) -> "RecordRow":
        """Built on a worker thread: looks at the file (its own station's only)."""
        if remote:
            return cls(record, record.has_footage,
                       record.size_bytes or 0, station, remote)
        try:
            size = os.stat(record.location).st_size if record.location else -1
        except OSError:
            size = -1
        return cls(record, size >= 0, max(size, 0), station)

    @property
    def md5_state(self) -> str:
        """recording: no MD5 until the file closes; verified: the catalog holds the MD5
        taken when the file was closed and the file is there at that size; missing: no
        MD5 or no file (failed, deleted, removed behind the station's back)."""
        record = self.record
        if record.status == RecordStatus.recording:
            return "recording"
        if record.hash_md5 and self.present and (record.size_bytes in (None, self.file_size)):
            return "verified"  # another station's file: as its owner closed it
        return "missing"

    def md5_tip(self) -> str:
        record, state = self.record, self.md5_state
        if state == "recording":
            return "The MD5 is taken when the recording stops"
        if state == "verified":
            return f"MD5 {record.hash_md5}\ntaken when the file was closed; the file is on disk"
        if not record.hash_md5:
            return "No MD5: the file was never closed properly"
        if not self.present:
            return f"The file is missing (MD5 {record.hash_md5})"
        return (f"The file on disk is {self.file_size} bytes, the catalog says "
                f"{record.size_bytes}: it was changed (MD5 {record.hash_md5})")


def human_size(size: int | None) -> str:
    if size is None:
        return "—"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"


def parse_utc(text: str | None) -> datetime | None:
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def local_time(text: str | None, today: date | None = None) -> str:
    """Short enough for a narrow column: "Today 15:54:01", otherwise "2026-11-20 09:12"."""
    moment = parse_utc(text)
    if moment is None:
        return "—"
    moment = moment.astimezone()
    if moment.date() == (today or date.today()):
        return moment.strftime("Today %H:%M:%S")
    return moment.strftime("%Y-%m-%d %H:%M")


def duration_of(row: RecordRow) -> float | None:
    record = row.record
    if record.status == RecordStatus.recording:
        begin = parse_utc(record.begin_utc)
        return (datetime.now(timezone.utc) - begin).total_seconds() if begin else None
    return record.duration_s


def is_protected(record: RecordOut) -> bool:
    return bool(getattr(record, "protected", False))


def can_protect(record: RecordOut) -> bool:
    """A record whose file is gone has nothing left to protect."""
    return record.status != RecordStatus.deleted


def gaps_of(record: RecordOut) -> list[tuple[datetime, datetime]]:
    """The outages inside the record's file, as (begin, end) UTC moments."""
    gaps = []
    for gap in getattr(record, "gaps", None) or ():
        begin, end = parse_utc(gap.begin_utc), parse_utc(gap.end_utc)
        if begin is not None and end is not None:
            gaps.append((begin, end))
    return gaps


def gaps_text(record: RecordOut) -> str:
    """ "—", or how many and how long in all: "2 (14.5 s)"."""
    gaps = gaps_of(record)
    if not gaps:
        return "—"
    lost = sum((end - begin).total_seconds() for begin, end in gaps)
    return f"{len(gaps)} ({lost:.1f} s)"


def gaps_detail(record: RecordOut) -> str:
    """One line per gap, local time: "15:03:44 – 15:03:54 (10.2 s)"."""
    return "\n".join(
        f"{begin.astimezone():%H:%M:%S} – {end.astimezone():%H:%M:%S} "
        f"({(end - begin).total_seconds():.1f} s)" for begin, end in gaps_of(record))


def deleted_note(record: RecordOut) -> str | None:
    """Why and when a record's file was deleted (retention, the operator), if it was."""
    if record.status != RecordStatus.deleted:
        return None
    reason = getattr(record, "deleted_reason", None) or "deleted"
    when = getattr(record, "deleted_utc", None)
    return f"{reason} ({local_time(when)})" if when else reason


def dot_icon(colour: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(colour))
    painter.drawEllipse(1, 1, 10, 10)
    painter.end()
    return QIcon(pixmap)


class Thumbnails(QObject):
    """First-keyframe pictures by record id: decoded one at a time off the GUI thread, kept
    (up to `limit`) for the session. A recording whose first fragment is not written yet is
    simply asked for again on a later look."""

    ready = Signal(str)  # record id

    def __init__(self, tasks: TaskRunner, limit: int = 1500, parent: QObject | None = None):
        super().__init__(parent)
        self.tasks, self.limit = tasks, limit
        # Where a record's file is read (on a worker thread): its location here; the browser
        # gives another station's records their owner's URL (ui.recordings.remote_records).
        self.locate: Callable[[RecordOut], MediaTarget] = lambda record: record.location
        self._cache: OrderedDict[str, QPixmap] = OrderedDict()
        self._queue: deque[RecordOut] = deque()
        self._queued: set[str] = set()
        self._failed: dict[str, float] = {}  # record id -> when its file gave no picture
        self._busy = False
        self.decoded = 0  # files decoded so far (a cache hit decodes nothing)

    def get(self, record: RecordOut) -> QPixmap | None:
        pixmap = self._cache.get(record.id)
        if pixmap is not None:
            self._cache.move_to_end(record.id)
            return pixmap
        if not record.has_footage or record.id in self._queued:
            return None
        failed = self._failed.get(record.id)
        if failed is not None and (record.status != RecordStatus.recording
                                   or time.monotonic() - failed < 1):
            return None  # a finished file without a picture is not decoded again and again
        self._queued.add(record.id)
        self._queue.append(record)
        self._next()
        return None

    def _next(self) -> None:
        if self._busy or not self._queue:
            return
        record = self._queue.popleft()
        self._busy = True
        box, locate = (THUMB.width(), THUMB.height()), self.locate
        self.tasks.run(lambda: first_keyframe(locate(record), box),
                       lambda rgb, _error: self._done(record.id, rgb))

    def _done(self, record_id: str, rgb) -> None:
        self._busy = False
        self._queued.discard(record_id)
        self.decoded += 1
        if rgb is None:
            self._failed[record_id] = time.monotonic()
        else:
            self._failed.pop(record_id, None)
            self._cache[record_id] = QPixmap.fromImage(rgb_image(rgb))
            while len(self._cache) > self.limit:
                self._cache.popitem(last=False)
            self.ready.emit(record_id)
        self._next()


class RecordsModel(QAbstractTableModel):
    def __init__(self, thumbnails: Thumbnails, parent: QObject | None = None):
        super().__init__(parent)
        self.rows: list[RecordRow] = []
        self.thumbnails = thumbnails
        thumbnails.ready.connect(self._thumbnail_ready)
        self._status_icons = {name: dot_icon(colour) for name, colour in STATUS_COLOURS.items()}
        self._lock, self._unlocked = icon("lock"), icon("unlock")

    # --- content -------------------------------------------------------------------
    def set_rows(self, rows: list[RecordRow]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def row_of(self, record_id: str) -> int:
        return next((i for i, row in enumerate(self.rows) if row.record.id == record_id), -1)

    def tick(self) -> None:
        """Once a second: the growing duration and size of records still recording."""
        for i, row in enumerate(self.rows):
            if row.record.status != RecordStatus.recording:
                continue
            if not row.remote:  # another station's file: only its duration grows here
                fresh = RecordRow.of(row.record, row.station)
                row.present, row.file_size = fresh.present, fresh.file_size
                self.thumbnails.get(row.record)  # its first fragment may be written by now
            self.dataChanged.emit(self.index(i, COL_DURATION), self.index(i, COL_SIZE))

    def _thumbnail_ready(self, record_id: str) -> None:
        i = self.row_of(record_id)
        if i >= 0:
            self.dataChanged.emit(self.index(i, COL_THUMB), self.index(i, COL_THUMB))

    # --- Qt model ------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, col = self.rows[index.row()], index.column()
        if role == RECORD_ROLE:
            return row.record
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, col)
        if role == Qt.ItemDataRole.DecorationRole:
            if col == COL_LOCK and can_protect(row.record):
                return self._lock if is_protected(row.record) else self._unlocked
            if col == COL_THUMB:
                return self.thumbnails.get(row.record)
            if col == COL_STATUS:
                return self._status_icons.get(row.record.status.value)
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_MD5:
            return QColor(MD5_COLOURS[row.md5_state])
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_GAPS and gaps_of(row.record):
            return QColor("#d69e2e")
        if role == Qt.ItemDataRole.AccessibleTextRole and col == COL_LOCK:
            return "protected" if is_protected(row.record) else "not protected"
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tip(row, col)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_DURATION, COL_SIZE):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _text(row: RecordRow, col: int) -> str | None:
        record = row.record
        if col == COL_TAG:  # what a source's mode records is marked as such
            return f"● {record.tag_name}" if is_mode_record(record) else record.tag_name or "—"
        if col == COL_SOURCE:
            return record.source.name if record.source else "—"
        if col == COL_STATION:
            return row.station or "—"
        if col == COL_BEGIN:
            return local_time(record.begin_utc or record.created_utc)
        if col == COL_DURATION:
            seconds = duration_of(row)
            return clock(seconds) if seconds is not None else "—"
        if col == COL_SIZE:
            if record.status == RecordStatus.recording:
                return "—" if row.remote else human_size(row.file_size)
            return human_size(record.size_bytes if record.size_bytes is not None else
                              (row.file_size if row.present else None))
        if col == COL_STATUS:
            return record.status.value
        if col == COL_GAPS:
            return gaps_text(record)
        if col == COL_MD5:
            return {"verified": "✓ verified", "missing": "✗ missing",
                    "recording": "● recording"}[row.md5_state]
        if col == COL_SYNC:
            return record.sync_location or "—"
        return None

    @staticmethod
    def _tip(row: RecordRow, col: int) -> str | None:
        record = row.record
        if col == COL_MD5:
            return row.md5_tip()
        if col == COL_LOCK and can_protect(record):
            return ("Protected: retention never deletes this file. Click to unprotect."
                    if is_protected(record) else
                    "Not protected: retention may delete this file once it is old. Click to "
                    "protect it.")
        if col == COL_STATUS and deleted_note(record):
            return deleted_note(record)
        if col == COL_STATUS and record.error:
            return record.error
        if col == COL_GAPS and gaps_of(record):
            return "Outages inside the file (the camera was away):\n" + gaps_detail(record)
        if col == COL_SYNC and record.sync_location:
            return record.sync_location
        if col == COL_BEGIN:
            moment = parse_utc(record.begin_utc or record.created_utc)
            return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z") if moment else None
        if col == COL_TAG:  # the column cuts long (automatic) tags: the whole name first
            lines = [f"Tag: {record.tag_name or '—'}"]
            if is_mode_record(record):
                lines.insert(0, mode_tip(record.source))
            if record.location:
                lines.append(str(Path(record.location)))
            return "\n".join(lines)
        if col in (COL_THUMB, COL_SOURCE) and record.location:
            return str(Path(record.location))
        return None
