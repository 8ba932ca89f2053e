"""The result list of a motion search, beside the Recordings timeline: a row per hit (camera,
begin in local time, duration, peak share of the rectangle that changed), a double-click
plays the hit from its begin in the tab's player (`play_requested`), and "Export hits" cuts
every hit with the station's exporter (the Export dialog's: one MP4 per hit, stream copy) into
the exports folder, telling what it wrote.

Why a thread of its own for the export, not the task runner: a cut is disk-bound and may
take a minute for many hits, and the runner's two workers serve every panel's reads."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QObject, QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui.errors import error_text
from ui.recordings.export_dialog import FOLDER_KEY
from ui.wall_prefs import FILE as PREFS_FILE

COLUMNS = ("Camera", "Begin", "Duration", "Peak")
EXPORT_PAD = timedelta(seconds=1)  # each cut a second wider either side: the lead-in, the tail


def exports_folder(settings) -> Path:
    """Where hits are exported, as the Export dialog chooses: the station's exports folder
    (`export_dir`, Settings ▸ General) when one is set, else the folder the Export dialog
    wrote to last (kept in the station's gui.ini), else `<data_dir>/exports`."""
    chosen = getattr(settings, "export_dir", None)
    if chosen:
        return Path(chosen)
    prefs = QSettings(str(Path(settings.data_dir) / PREFS_FILE), QSettings.Format.IniFormat)
    kept = prefs.value(FOLDER_KEY, "", type=str)
    return Path(kept) if kept else Path(settings.data_dir) / "exports"


def duration_text(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


class HitsModel(QAbstractTableModel):
    """The hits as rows, their cells made as the view asks for them: a week of a busy
    camera is thousands of hits, and a row of items made for each up front cost seconds."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.hits: list = []
        self.names: dict[int, str] = {}

    def set_hits(self, hits: list, names: dict[int, str]) -> None:
        self.beginResetModel()
        self.hits, self.names = list(hits), dict(names)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 - Qt naming
        return 0 if parent.isValid() else len(self.hits)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802 - Qt naming
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if role != Qt.ItemDataRole.DisplayRole or not index.isValid():
            return None
        hit = self.hits[index.row()]
        column = index.column()
        if column == 0:
            return self.names.get(hit.source_id, f"source {hit.source_id}")
        if column == 1:
            return hit.begin.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        if column == 2:
            return duration_text((hit.end - hit.begin).total_seconds())
        return f"{hit.peak * 100:.0f} %"

    def text(self, row: int, column: int) -> str:
        return self.data(self.index(row, column))


class _Signals(QObject):
    progress = Signal(int, int)       # hits cut, of
    done = Signal(object, object)     # written paths, error


class MotionHitsPanel(QWidget):
    play_requested = Signal(int, object)  # source id, the hit's begin (aware UTC)
    cleared = Signal()
    exported = Signal(list)               # the files written by "Export hits"

    def __init__(self, station, parent: QWidget | None = None):
        super().__init__(parent)
        self.station = station
        self.hits: list = []
        self.folder: Path | None = None  # where the last export went
        self._worker: threading.Thread | None = None
        self._cancel = threading.Event()
        # the export thread's signals (public: a caller may also follow them from that thread)
        self.signals = _Signals(self)
        self.signals.progress.connect(self._on_progress)
        self.signals.done.connect(self._on_done)
        self.header = QLabel("Motion search", self)
        self.header.setWordWrap(True)
        self.model = HitsModel(self)
        self.table = QTableView(self)
        self.table.setModel(self.model)
        self.table.setWordWrap(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        width = self.fontMetrics().horizontalAdvance
        for column, sample in ((1, "2026-12-07 22:44:00"), (2, "10:00"), (3, "100 %")):
            self.table.setColumnWidth(column, width(sample) + 16)
        self.table.setToolTip("Double-click a hit to play it from its begin")
        self.table.doubleClicked.connect(lambda index: self._double_clicked(index.row()))
        self.export_button = QPushButton("Export hits", self)
        self.export_button.setToolTip("Cut each hit (a second wider either side) with the "
                                      "exporter, one MP4 per hit, into the exports folder")
        self.export_button.clicked.connect(self.export_hits)
        self.cancel_button = QPushButton("Cancel export", self)
        self.cancel_button.setToolTip("Stop after the packets being cut; the files written stay")
        self.cancel_button.clicked.connect(self.cancel_export)
        self.cancel_button.hide()
        self.clear_button = QPushButton("Clear", self)
        self.clear_button.setToolTip("Remove the hits from the timeline and close this list")
        self.clear_button.clicked.connect(self.clear)
        self.message = QLabel(self)
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.header)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.message)

    def set_results(self, hits: list, names: dict[int, str], header: str) -> None:
        self.hits = list(hits)
        self.header.setText(header)
        self.message.setText("")
        self.model.set_hits(self.hits, names)
        self.export_button.setEnabled(bool(self.hits))

    def _double_clicked(self, row: int) -> None:
        if 0 <= row < len(self.hits):
            hit = self.hits[row]
            self.play_requested.emit(hit.source_id, hit.begin)

    def clear(self) -> None:
        self.set_results([], {}, "Motion search")
        self.cleared.emit()

    # --- exporting the hits ---------------------------------------------------------------
    def running(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    def export_hits(self, folder: Path | None = None) -> None:
        """Every hit cut into `folder` (default: the exports folder), on a thread."""
        if self.running() or not self.hits:
            return
        folder = Path(folder) if folder is not None else exports_folder(self.station.settings)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            self.message.setText(f"Cannot use {folder}: {exc.strerror or exc}")
            return
        self.folder = folder
        exports, signals, cancel = self.station.exports, self.signals, self._cancel
        spans = [(hit.source_id, hit.begin - EXPORT_PAD, hit.end + EXPORT_PAD) for hit in self.hits]
        cancel.clear()

        def work() -> None:
            written: list[Path] = []
            try:
                for n, (source_id, begin, end) in enumerate(spans):
                    signals.progress.emit(n, len(spans))
                    if cancel.is_set():
                        break
                    written += exports.export_to([source_id], begin, end, folder,
                                                 cancelled=cancel.is_set)
            except BaseException as exc:  # told to the operator, with what was written so far
                signals.done.emit(written, exc)
            else:
                signals.done.emit(written, None)

        self.export_button.setEnabled(False)
        self.cancel_button.show()
        self.message.setText(f"Exporting {len(spans)} hit(s) to {folder}…")
        self._worker = threading.Thread(target=work, name="export-hits", daemon=True)
        self._worker.start()

    def _on_progress(self, done: int, total: int) -> None:
        self.message.setText(f"Exporting hit {done + 1} of {total} to {self.folder}…")

    def cancel_export(self) -> None:
        """Stop a running export between packets (thread-safe: it only sets an event)."""
        self._cancel.set()

    def _on_done(self, written: list[Path], error: BaseException | None) -> None:
        self.export_button.setEnabled(bool(self.hits))
        self.cancel_button.hide()
        what = f"{len(written)} file(s) written to {self.folder}"
        if self._cancel.is_set():
            self.message.setText(f"Export cancelled ({what}).")
        elif error is not None:
            self.message.setText(f"Export stopped: {error_text(error)} ({what}).")
        else:
            self.message.setText(f"Exported: {what}.")
        self.message.setToolTip("\n".join(str(p) for p in written))
        self.exported.emit(written)

    def shutdown(self) -> None:
        """The window is closing: a running export stops between packets."""
        self._cancel.set()
        if self._worker is not None:
            self._worker.join(10)
