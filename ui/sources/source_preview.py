"""The right-hand panel of the source dialog: the "Test connection" button, the picture the
station received (or why there is none), and how long it took. Only display here; the
dialog decides what to open and runs it off the GUI thread."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSize, Qt
from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap
from PySide6.QtSvg import QSvgRenderer
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout, QWidget

from ui.forms import repolish, section_title
from ui.icons import ICONS, icon

PREVIEW = QSize(320, 180)
ACCENT = "#4a90d9"  # the colour of the kind icons, white when their row is selected


def selectable_icon(name: str, sizes: tuple[int, ...] = (26, 52)) -> QIcon:
    """An accent-coloured icon that turns white on a selected (accent-filled) row."""
    path = ICONS / f"{name}.svg"
    if not path.is_file():
        return icon(name)
    svg = path.read_text(encoding="utf-8")
    result = QIcon()
    for mode, text in ((QIcon.Mode.Normal, svg), (QIcon.Mode.Selected, svg.replace(ACCENT, "#ffffff"))):
        renderer = QSvgRenderer(QByteArray(text.encode()))
        for size in sizes:
            pixmap = QPixmap(size, size)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            renderer.render(painter)
            painter.end()
            result.addPixmap(pixmap, mode)
    return result


class PreviewPanel(QFrame):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent, objectName="previewPanel")
        self.busy = False
        self.image: QImage | None = None
        self.setFixedWidth(PREVIEW.width() + 32)
        column = QVBoxLayout(self)
        column.setContentsMargins(16, 14, 16, 8)
        column.setSpacing(8)
        column.addWidget(section_title("Preview"))
        self.picture = QLabel("Press “Test connection” to see\nwhat the station receives",
                              objectName="sourcePreview")
        self.picture.setFixedSize(PREVIEW)
        self.picture.setAlignment(Qt.AlignmentFlag.AlignCenter)
        column.addWidget(self.picture)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        column.addWidget(self.status)
        self.test_button = QPushButton(icon("plug"), "Test connection")
        self.test_button.setAutoDefault(False)
        column.addWidget(self.test_button, 0, Qt.AlignmentFlag.AlignLeft)
        column.addStretch(1)

    def start(self) -> None:
        self.busy = True
        self.test_button.setEnabled(False)
        self.test_button.setText("Connecting…")
        self._status("", None)

    def _done(self) -> None:
        self.busy = False
        self.test_button.setEnabled(True)
        self.test_button.setText("Test connection")

    def show_image(self, image: QImage, text: str) -> None:
        self._done()
        self.image = image
        self.picture.setPixmap(QPixmap.fromImage(image).scaled(
            PREVIEW, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))
        self._status(f"✓ {text}", "success")

    def show_error(self, message: str) -> None:
        self._done()
        self.image = None
        self.picture.clear()
        self.picture.setText("No picture")
        self._status(message, "inlineError")

    def _status(self, text: str, kind: str | None) -> None:
        self.status.setText(text)
        self.status.setProperty("success", kind == "success")
        self.status.setProperty("inlineError", kind == "inlineError")
        repolish(self.status)
