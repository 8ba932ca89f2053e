"""Form building blocks the dialogs share: labelled rows with a hint and an inline error
under the field, secret fields with a show/hide eye, a banner for messages that belong to no
single field. Colours are accents that read on light and dark palettes alike."""

from __future__ import annotations

import functools

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from ui.icons import icon

ERROR_COLOUR = "#e53e3e"
# Dialog-level additions to the application style sheet (resources/style.qss): error frames,
# hints, banners.
DIALOG_STYLE = f"""
QLineEdit[invalid="true"], QComboBox[invalid="true"], QSpinBox[invalid="true"],
QDoubleSpinBox[invalid="true"] {{ border: 1px solid {ERROR_COLOUR}; }}
QLabel[inlineError="true"] {{ color: {ERROR_COLOUR}; }}
QLabel[success="true"] {{ color: #38a169; }}
QLabel[hint="true"] {{ color: palette(placeholder-text); }}
QLabel[notice="true"] {{ border-radius: 6px; padding: 6px 8px; color: palette(window-text);
    background: rgba(214, 158, 46, 0.16); border: 1px solid rgba(214, 158, 46, 0.6); }}
QLabel#banner {{ border-radius: 6px; padding: 8px 10px; }}
QLabel#banner[level="error"] {{ background: rgba(229, 62, 62, 0.13); border: 1px solid rgba(229, 62, 62, 0.55); }}
QLabel#banner[level="info"] {{ background: rgba(74, 144, 217, 0.13); border: 1px solid rgba(74, 144, 217, 0.55); }}
QLabel#banner[level="success"] {{ background: rgba(56, 161, 105, 0.14); border: 1px solid rgba(56, 161, 105, 0.55); }}
QLabel#sectionTitle {{ font-weight: bold; padding-top: 4px; }}
QPushButton:default {{ background: palette(highlight); color: palette(highlighted-text);
    border-color: palette(highlight); font-weight: bold; }}
QPushButton:default:disabled {{ background: palette(mid); }}
QDialogButtonBox {{ dialogbuttonbox-buttons-have-icons: 0; }}
QPushButton#destructive {{ background: #c53030; border-color: #9b2c2c; color: white; font-weight: bold; }}
QPushButton#destructive:hover {{ background: #e53e3e; }}
QTabWidget::pane {{ border: none; border-top: 1px solid palette(mid); top: -1px; }}
QTabBar::tab {{ padding: 7px 14px; margin-right: 2px; border: none;
    border-bottom: 2px solid transparent; background: transparent; }}
QTabBar::tab:selected {{ border-bottom: 2px solid palette(highlight); color: palette(window-text); }}
QTabBar::tab:!selected {{ color: palette(placeholder-text); }}
QTabBar::tab:hover {{ color: palette(window-text); }}
"""


def if_alive(method):
    """For TaskRunner callbacks: the dialog may have been closed and deleted while its call
    was running (a camera can take seconds to answer); then the result is dropped."""
    @functools.wraps(method)
    def guarded(self, *args):
        return method(self, *args) if shiboken6.isValid(self) else None
    return guarded


def repolish(widget: QWidget) -> None:
    """Re-apply the style sheet after a dynamic property changed."""
    widget.style().unpolish(widget)
    widget.style().polish(widget)
    widget.update()


def hint_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setProperty("hint", True)
    label.setWordWrap(True)
    font = label.font()
    font.setPointSizeF(max(7.0, font.pointSizeF() - 1))
    label.setFont(font)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    return label


def inline_error(parent: QWidget, key: str) -> QLabel:
    """The hidden red line under a field that shows what is wrong with it (`error_<key>`)."""
    error = QLabel(parent)
    error.setProperty("inlineError", True)
    error.setWordWrap(True)
    error.setObjectName(f"error_{key}")
    error.hide()
    return error


def section_title(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("sectionTitle")
    return label


class SecretEdit(QLineEdit):
    """A password field: dots until the eye is clicked."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setEchoMode(QLineEdit.EchoMode.Password)
        self.reveal = self.addAction(icon("eye"), QLineEdit.ActionPosition.TrailingPosition)
        self.reveal.setToolTip("Show")
        self.reveal.triggered.connect(self.toggle)

    def toggle(self) -> None:
        shown = self.echoMode() == QLineEdit.EchoMode.Normal
        self.setEchoMode(QLineEdit.EchoMode.Password if shown else QLineEdit.EchoMode.Normal)
        self.reveal.setIcon(icon("eye" if shown else "eye-off"))
        self.reveal.setToolTip("Show" if shown else "Hide")


class Banner(QLabel):
    """A message across the form: an error that names no field, a notice after saving."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("banner")
        self.setWordWrap(True)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.hide()

    def show_message(self, level: str, text: str) -> None:
        self.setProperty("level", level)
        self.setText(text)
        repolish(self)
        self.show()

    def clear(self) -> None:  # noqa: D102 - QLabel.clear, and hide
        super().clear()
        self.hide()


class Form(QWidget):
    """Rows of label → field, each field with an optional hint and an inline error below it.
    Fields are addressed by key (the service's field names where they match)."""

    LABEL_WIDTH = 112  # one width for every form of a dialog, so their fields line up

    def __init__(self, parent: QWidget | None = None, *, label_width: int | None = None):
        super().__init__(parent)
        self.label_width = label_width or self.LABEL_WIDTH
        self.layout_ = QFormLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setHorizontalSpacing(14)
        self.layout_.setVerticalSpacing(8)
        self.layout_.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.layout_.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.fields: dict[str, QWidget] = {}
        self.errors: dict[str, QLabel] = {}
        self.hints: dict[str, QLabel] = {}

    def add(self, key: str, label: str, field: QWidget, hint: str | None = None,
            *, extra: QWidget | None = None, focus: QWidget | None = None) -> QWidget:
        """A row; `extra` sits right of the field (a button); `focus` is the widget that
        shows the error frame when `field` is a container."""
        cell = QWidget(self)
        column = QVBoxLayout(cell)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(3)
        if extra is not None:
            line = QHBoxLayout()
            line.setSpacing(6)
            line.addWidget(field, 1)
            line.addWidget(extra)
            column.addLayout(line)
        else:
            column.addWidget(field)
        if hint:
            self.hints[key] = hint_label(hint)
            column.addWidget(self.hints[key])
        error = inline_error(cell, key)
        column.addWidget(error)
        caption = QLabel(label)
        caption.setMinimumWidth(self.label_width)
        caption.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop)
        caption.setContentsMargins(0, 6, 0, 0)  # level with the text inside the field
        if label:
            caption.setBuddy(focus or field)
        self.layout_.addRow(caption, cell)
        self.fields[key] = focus or field
        self.errors[key] = error
        return field

    def show_error(self, key: str, message: str) -> None:
        label = self.errors[key]
        label.setText(message)
        label.show()
        field = self.fields[key]
        field.setProperty("invalid", True)
        repolish(field)

    def clear_error(self, key: str) -> None:
        self.errors[key].hide()
        self.errors[key].clear()
        field = self.fields[key]
        if field.property("invalid"):
            field.setProperty("invalid", False)
            repolish(field)

    def clear_errors(self) -> None:
        for key in self.errors:
            self.clear_error(key)

    def error_text(self, key: str) -> str:
        """The inline error shown for `key` ("" when none)."""
        label = self.errors[key]
        return label.text() if not label.isHidden() else ""
