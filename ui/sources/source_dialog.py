"""Add and edit a source: the kind on the left, its fields in the middle, a live "Test
connection" picture on the right. Every call into the core runs on a worker thread
(TaskRunner); what the core refuses comes back as an inline message next to the field its
error names, and nothing is stored. "Test connection" is the service's `probe` (the address
opened under the station's URI policy, `media_dirs` included), the same the API can offer.

A new source can go into a group at once (the Group field, #27 item 7), and saving says what
was done through `report` (the main window's status bar). On the Find cameras page several
found cameras are added in one go (ui.sources.camera_batch).

Entry points for the main window:
    SourceDialog.add(station, tasks, parent=None, kind=None, group=None, report=None)
    SourceDialog.edit(station, tasks, source_id, parent=None) -> SourceDialog
    confirm_delete_source(station, tasks, source_id, parent=None) -> DeleteSourceFlow
Both dialogs are opened window-modal without blocking and delete themselves when closed;
`saved` / `deleted` carry the result.
"""

from __future__ import annotations

from collections.abc import Callable

import re

from pydantic import ValidationError
from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.errors import InvalidInput, StationError
from app.ffmpeg_cmd import profile_of
from app.schemas import SourceIn, SourceOut
from app.services.camera_import import keep_ptz
from app.services.sources import SourceProbe
from app.station import Station
from ui.errors import error_text
from ui.forms import DIALOG_STYLE, Banner, Form, if_alive, section_title
from ui.icons import icon
from ui.sources.camera_batch import CameraBatch
from ui.sources.find_cameras import FindCamerasPage
from ui.sources.group_field import GroupField
from ui.sources.record_mode_form import RecordModeForm
from ui.sources.source_delete import DeleteSourceFlow, confirm_delete_source
from ui.sources.source_kinds import KINDS, kind_of
from ui.sources.source_pages import PAGES, USE_RUNNING_SOURCE, FieldProblem, KindPage
from ui.sources.source_preview import PreviewPanel, selectable_icon
from ui.tasks import TaskRunner

__all__ = ["SourceDialog", "confirm_delete_source", "DeleteSourceFlow"]
ALL_PAGES = {**PAGES, FindCamerasPage.kind: FindCamerasPage}  # Find cameras needs the station
STYLE = DIALOG_STYLE + """
QListWidget#kindList { border: none; background: transparent; font-size: 13px; outline: 0; }
QListWidget#kindList::item { padding: 9px 8px; border-radius: 6px; margin: 1px 0; }
QListWidget#kindList::item:selected { background: palette(highlight); color: palette(highlighted-text); }
QLabel#kindTitle { font-size: 17px; font-weight: bold; }
QLabel#sourcePreview { background: #0d1014; color: #9aa4ae; border-radius: 6px; }
QFrame#previewPanel { border-left: 1px solid palette(mid); }
QScrollArea#formScroll { border: none; background: transparent; }
QScrollArea#formScroll > QWidget > QWidget { background: transparent; }
"""


REFUSED = object()  # what _checked answers when the form has a problem shown

class SourceDialog(QDialog):
    saved = Signal(object)    # SourceOut
    deleted = Signal(object)  # SourceOut

    @classmethod
    def add(cls, station: Station, tasks: TaskRunner, parent: QWidget | None = None,
            kind: str | None = None, group: str | None = None,
            report: Callable[[str], None] | None = None) -> "SourceDialog":
        dialog = cls(station, tasks, parent, kind=kind, group=group, report=report)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    @classmethod
    def edit(cls, station: Station, tasks: TaskRunner, source_id: int,
             parent: QWidget | None = None) -> "SourceDialog":
        dialog = cls(station, tasks, parent, source_id=source_id)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def __init__(self, station: Station, tasks: TaskRunner, parent: QWidget | None = None, *,
                 source_id: int | None = None, kind: str | None = None, group: str | None = None,
                 report: Callable[[str], None] | None = None):
        super().__init__(parent)
        self.station, self.tasks, self.source_id = station, tasks, source_id
        self.preselect_group = group
        self.report: Callable[[str], None] = report or (lambda _message: None)
        self.source: SourceOut | None = None
        self.loaded = source_id is None
        self.busy = False
        self.delete_flow: DeleteSourceFlow | None = None
        self.setWindowTitle("Add source" if source_id is None else "Edit source")
        self.setStyleSheet(STYLE)
        self._build()
        self.set_kind(kind or "stream")
        self._fit_to_screen()
        if source_id is not None:
            self._set_enabled(False)
            self.tasks.run(lambda: self.station.sources.get(source_id), self._loaded)

    # --- building --------------------------------------------------------------------------
    def _build(self) -> None:
        self.kind_list = QListWidget(objectName="kindList")
        self.kind_list.setIconSize(QSize(26, 26))
        self.kind_list.setFixedWidth(190)
        for kind in KINDS:
            item = QListWidgetItem(selectable_icon(kind.icon), kind.title)
            item.setData(Qt.ItemDataRole.UserRole, kind.key)
            item.setToolTip(kind.subtitle)
            self.kind_list.addItem(item)
        self.kind_list.currentRowChanged.connect(lambda row: self.set_kind(KINDS[row].key))

        self.banner = Banner()
        self.kind_title = QLabel(objectName="kindTitle")
        self.kind_subtitle = QLabel()
        self.kind_subtitle.setProperty("hint", True)
        self.common = Form()
        self.name = self.common.add("name", "Name", QLineEdit())
        self.name.setPlaceholderText("e.g. Lobby entrance" if self.source_id is not None
                                     else "e.g. Lobby entrance (empty: source-N)")
        self.description = self.common.add("description", "Description", QLineEdit())
        self.description.setPlaceholderText("optional: where it is, what it sees")
        self.group: GroupField | None = None
        if self.source_id is None:  # a new source only: an existing one is filed in the tree
            self.group = self.common.add("group", "Group", GroupField(
                self.station, self.tasks, self.preselect_group),
                "The group the new source (or the checked cameras) go into")
            self.group.load()
        # All pages in one column, only the current one shown: the column is as tall as the
        # page on screen (a QStackedWidget would be as tall as the tallest page).
        self.stack = QWidget()
        pages_column = QVBoxLayout(self.stack)
        pages_column.setContentsMargins(0, 0, 0, 0)
        self.pages: dict[str, KindPage] = {}
        for kind in KINDS:
            self.pages[kind.key] = ALL_PAGES[kind.key]()
            self.pages[kind.key].hide()
            pages_column.addWidget(self.pages[kind.key])
        self.find_cameras: FindCamerasPage = self.pages["onvif"]
        self.find_cameras.attach(self.station, self.tasks)
        self.pages["device"].attach(self.station.devices)
        self.find_cameras.camera_named.connect(
            lambda name: self.name.text().strip() or self.name.setText(name))
        self.batch = CameraBatch(self)
        self.find_cameras.batch_requested.connect(self.batch.add_checked)
        self.current_page: KindPage = self.pages["stream"]
        self.recording = Form()
        self.ffmpeg_cmd = self.recording.add(
            "ffmpeg_cmd", "Encoding", QLineEdit(),
            "Empty: recorded exactly as received. Or ffmpeg options, e.g. "
            "-c:v libx264 -preset veryfast -b:v 2M -vf scale=1280:-2 -an")
        self.ffmpeg_cmd.setPlaceholderText("stream copy (no re-encoding)")
        self.ffmpeg_cmd.editingFinished.connect(self._check_ffmpeg_cmd)
        self.enabled = self.recording.add("enabled", "", QCheckBox("Read this source"),
                                          "Unchecked: kept in the catalog, not connected")
        self.enabled.setChecked(True)
        self.record_mode = RecordModeForm()

        middle = QWidget()
        column = QVBoxLayout(middle)
        column.setContentsMargins(18, 14, 18, 8)
        column.setSpacing(10)
        for widget in (self.banner, self.kind_title, self.kind_subtitle, self.common,
                       section_title("Connection"), self.stack, section_title("Recording"),
                       self.recording, section_title("Recording by itself"), self.record_mode):
            column.addWidget(widget)
        column.addStretch(1)
        scroll = QScrollArea(objectName="formScroll")
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(middle)

        body = QHBoxLayout()
        body.setContentsMargins(0, 0, 0, 0)
        body.setSpacing(0)
        body.addWidget(self.kind_list)
        body.addWidget(scroll, 1)
        self.preview_panel = PreviewPanel()
        self.preview_panel.test_button.clicked.connect(self.test_connection)
        self.test_button = self.preview_panel.test_button
        self.preview_status = self.preview_panel.status
        self.preview = self.preview_panel.picture
        body.addWidget(self.preview_panel)
        self.find_cameras.picture.connect(self.preview_panel.show_image)

        self.buttons = QDialogButtonBox(self)  # a parent first: it styles the buttons
        self.save_button = self.buttons.addButton("Add source" if self.source_id is None else "Save",
                                                  QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setDefault(True)
        cancel = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        cancel.setAutoDefault(False)  # Enter saves, whichever button had the focus last
        self.save_button.clicked.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        footer = QHBoxLayout()
        self.delete_button = None
        if self.source_id is not None:  # apart from Save/Cancel, on the left
            self.delete_button = QPushButton(icon("trash"), "Delete source…")
            self.delete_button.setAutoDefault(False)
            self.delete_button.clicked.connect(self.ask_delete)
            footer.addWidget(self.delete_button)
        footer.addStretch(1)
        footer.addWidget(self.buttons)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(10, 10, 10, 10)
        outer.addLayout(body, 1)
        outer.addLayout(footer)

    def _fit_to_screen(self) -> None:
        screen = self.screen().availableGeometry() if self.screen() else None
        width, height = 1010, 640
        if screen is not None:
            width, height = min(width, screen.width() - 40), min(height, screen.height() - 60)
        self.resize(width, height)

    # --- kinds -----------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return self.current_page.kind

    @property
    def page(self) -> KindPage:
        return self.current_page

    def set_kind(self, key: str) -> None:
        if key not in self.pages:
            raise ValueError(f"unknown source kind {key!r}")
        row = [k.key for k in KINDS].index(key)
        if self.kind_list.currentRow() != row:
            self.kind_list.setCurrentRow(row)  # comes back here through the signal
            return
        kind = KINDS[row]
        self.current_page.hide()
        self.current_page = self.pages[key]
        self.current_page.show()
        self.kind_title.setText(kind.title)
        self.kind_subtitle.setText(kind.subtitle)
        self.banner.clear()

    # --- loading (edit) --------------------------------------------------------------------
    @if_alive
    def _loaded(self, source: SourceOut | None, error) -> None:
        if error is not None:
            self.show_error(error)
            self.test_button.setEnabled(False)
            return
        self.source, self.loaded = source, True
        self.setWindowTitle(f"Edit source — {source.name}")
        self.set_kind(kind_of(source))
        self.page.load(source)
        self.name.setText(source.name)
        self.description.setText(source.description or "")
        self.ffmpeg_cmd.setText(source.ffmpeg_cmd or "")
        self.enabled.setChecked(source.enabled)
        self.record_mode.load(source)
        self._set_enabled(True)
        self.save_button.setDefault(True)
        self.name.setFocus()

    def _set_enabled(self, on: bool) -> None:
        for widget in (self.kind_list, self.stack, self.common, self.recording, self.record_mode,
                       self.save_button,
                       self.test_button) + ((self.delete_button,) if self.delete_button else ()):
            widget.setEnabled(on)

    # --- saving ----------------------------------------------------------------------------
    @property
    def model(self) -> str:
        """The service's `model` of the current kind."""
        return "PictureSource" if self.kind == "snapshot" else "Source"

    def collect(self) -> SourceIn:
        """The form as the service's input; raises FieldProblem or pydantic's ValidationError."""
        name = self.name.text().strip()
        if not name and self.source_id is not None:
            raise FieldProblem("name", "Enter a name.")
        data = {"model": self.model,
                "description": self.description.text().strip(),
                "ffmpeg_cmd": self.ffmpeg_cmd.text().strip(), "enabled": self.enabled.isChecked(),
                "uri_rtsp": None, "uri_http_picture": None, **self.page.payload(),
                **self.record_mode.payload()}
        if name:
            data["name"] = name
        if self.source_id is None:  # a new source: leave out what is empty
            data = {k: v for k, v in data.items() if v not in (None, "")}
        self._check_ffmpeg_cmd()
        return SourceIn.model_validate(data)

    def _check_ffmpeg_cmd(self) -> None:
        self.recording.clear_error("ffmpeg_cmd")
        try:
            profile_of(self.ffmpeg_cmd.text().strip() or None)
        except InvalidInput as exc:
            self.show_error(exc)
            raise FieldProblem("ffmpeg_cmd", exc.message) from None

    def save(self) -> None:
        if self.busy or not self.loaded:
            return
        self.clear_errors()
        data = self._checked(self.collect)
        if data is REFUSED:
            return
        self._set_busy(True, "Saving…")
        if self.source_id is None:
            sources, groups = self.station.sources, self.station.groups
            group_id = self.group.group_id() if self.group is not None else None
            station = self.station
            ptz = self.find_cameras.ptz_reading() if self.page is self.find_cameras else None

            def create():
                """The source, then its group and its camera's PTZ control: a refused group
                change or PTZ leaves it added."""
                source = sources.create(data)
                if group_id is not None:
                    try:
                        groups.add_source(group_id, source.id)
                    except StationError as exc:
                        self.group_problem = error_text(exc)
                if ptz is not None:
                    try:
                        keep_ptz(station, source.id, *ptz)
                    except StationError as exc:
                        self.ptz_problem = error_text(exc)
                return source
            self.group_problem = self.ptz_problem = ""
            self.tasks.run(create, self._after_save)
        else:
            source_id = self.source_id
            self.tasks.run(lambda: self.station.sources.update(source_id, data), self._after_save)

    @if_alive
    def _after_save(self, source: SourceOut | None, error) -> None:
        self._set_busy(False)
        if error is not None:
            self.show_error(error)
            return
        self.source = source
        self.report(self._saved_text(source))
        self.saved.emit(source)
        self.accept()

    def _saved_text(self, source: SourceOut) -> str:
        """The confirmation: what was saved, and where it went."""
        if self.source_id is not None:
            return f"Saved the source “{source.name}”."
        group = self.group.group_name() if self.group is not None else None
        if group and self.group_problem:
            return f"Added the source “{source.name}”, but not to “{group}”: {self.group_problem}"
        if self.ptz_problem:
            return f"Added the source “{source.name}”, but without PTZ control: {self.ptz_problem}"
        return f"Added the source “{source.name}”" + (f" to the group “{group}”." if group else ".")

    def _set_busy(self, busy: bool, text: str = "") -> None:
        self.busy = busy
        self.save_button.setEnabled(not busy)
        self.save_button.setText(text if busy else ("Add source" if self.source_id is None else "Save"))

    # --- errors ----------------------------------------------------------------------------
    def clear_errors(self) -> None:
        self.banner.clear()
        for form in (self.common, self.recording, self.record_mode, *self.pages.values()):
            form.clear_errors()

    def _target(self, field: str | None) -> tuple[Form, str] | None:
        """Where an error about the service field `field` is shown."""
        head = (field or "").split(".")[0]
        if head in ("name", "description", "group"):
            return self.common, head
        if head in ("ffmpeg_cmd", "enabled"):
            return self.recording, head
        if head in self.record_mode.fields:
            return self.record_mode, head
        if head in ("uri_rtsp", "uri_http_picture"):
            tail = (field or "").split(".")[1:2]
            if tail and tail[0] in self.page.fields:
                return self.page, tail[0]
            return self.page, self.page.main_key
        if head in self.page.fields:
            return self.page, head
        return None

    def _show_validation_errors(self, exc: ValidationError) -> None:
        for item in exc.errors():
            self.show_field_error(".".join(str(p) for p in item["loc"]), item["msg"])

    def show_field_error(self, field: str, message: str) -> None:
        message = field_message(field, message)
        target = self._target(field)
        if target is None:
            self.banner.show_message("error", message)
        else:
            target[0].show_error(target[1], message)

    def show_error(self, error: BaseException) -> None:
        if isinstance(error, StationError):
            self.show_field_error(error.field or "", error_text(error))
        else:
            self.banner.show_message("error", f"Unexpected error: {error}")

    def error_for(self, field: str) -> str:
        """The inline message shown for a service field (tests, accessibility)."""
        target = self._target(field)
        return target[0].error_text(target[1]) if target else ""

    # --- test connection -------------------------------------------------------------------
    @property
    def probing(self) -> bool:
        return self.preview_panel.busy

    @property
    def preview_image(self) -> QImage | None:
        return self.preview_panel.image

    def _probe_data(self) -> SourceIn | None:
        """What "Test connection" opens: the form's address, or None for the running source."""
        target = self.page.probe_target()
        return (None if target is USE_RUNNING_SOURCE
                else SourceIn.model_validate({"model": self.model, **target}))

    def _checked(self, build: Callable[[], object]) -> object:
        """`build()`, or REFUSED once its problems are shown beside their fields."""
        try:
            return build()
        except FieldProblem as problem:
            self.show_field_error(problem.key, problem.message)
        except ValidationError as exc:
            self._show_validation_errors(exc)
        return REFUSED

    def test_connection(self) -> None:
        if self.probing:
            return
        self.page.clear_errors()
        data = self._checked(self._probe_data)
        if data is REFUSED:
            return
        self.preview_panel.start()
        if self.source_id is not None:  # a source waiting to reconnect tries again now
            source_id, sources = self.source_id, self.station.sources
            self.tasks.run(lambda: sources.retry_now(source_id), lambda *_: None)
        if data is None:  # the running source (USE_RUNNING_SOURCE)
            source_id = self.source_id
            self.tasks.run(lambda: self.station.sources.picture_jpeg(source_id), self._show_jpeg)
        else:
            sources = self.station.sources
            self.tasks.run(lambda: sources.probe(data), self._show_probe)

    @if_alive
    def _show_probe(self, result: SourceProbe | None, error) -> None:
        if isinstance(error, StationError):  # the policy refused the address: say so at the field too
            self.show_error(error)
            self.preview_panel.show_error(field_message(error.field or "", error.message))
        elif error is not None:
            self.preview_panel.show_error(f"Unexpected error: {error}")
        elif not result.ok:
            self.preview_panel.show_error(result.detail or result.error or "No picture")
        else:
            self.preview_panel.show_image(QImage.fromData(result.jpeg, "JPEG"),
                                          f"Connected in {result.seconds:.1f} s · {result.summary()}")

    @if_alive
    def _show_jpeg(self, jpeg: bytes | None, error) -> None:
        if error is not None:
            self.preview_panel.show_error(error_text(error))
        else:
            self.preview_panel.show_image(QImage.fromData(jpeg, "JPEG"),
                                          "The running source's picture (its stored password is used).")

    # --- delete ----------------------------------------------------------------------------
    def ask_delete(self) -> None:
        self.delete_flow = confirm_delete_source(self.station, self.tasks, self.source_id, self)
        self.delete_flow.finished.connect(self._after_delete)

    @if_alive
    def _after_delete(self, deleted: SourceOut | None) -> None:
        if deleted is not None:
            self.deleted.emit(deleted)
            self.accept()


def field_message(field: str, message: str) -> str:
    """A service message for the form: without the field name it starts with (the form shows
    it next to that field), capitalised."""
    message = re.sub(rf"^{re.escape(field.split('.')[0])}(\.\w+)?:\s*", "",
                     message.removeprefix("Value error, "))  # a schema check's ValueError
    return message[:1].upper() + message[1:]
