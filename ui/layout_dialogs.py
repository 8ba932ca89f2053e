"""The small dialogs of View › Layouts (ui.wall_layouts): a new layout's name and shape, the
tour's layouts and seconds, which layout on which screen. They only ask; the window acts."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QSpinBox,
)

from app.layouts.schemas import LayoutOut
from app.layouts.shapes import SHAPE_NAMES


def _buttons(dialog: QDialog, form: QFormLayout) -> None:
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                               | QDialogButtonBox.StandardButton.Cancel, dialog)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    form.addRow(buttons)


class NewLayoutDialog(QDialog):
    def __init__(self, parent):
        super().__init__(parent)
        self.setWindowTitle("New layout")
        form = QFormLayout(self)
        self.name = QLineEdit(self)
        self.name.setMaxLength(64)
        self.shape = QComboBox(self)
        self.shape.addItems(SHAPE_NAMES)
        self.shape.setCurrentText("1+5")
        form.addRow("Name", self.name)
        form.addRow("Shape", self.shape)
        _buttons(self, form)


class TourDialog(QDialog):
    def __init__(self, parent, layouts: list[LayoutOut], chosen: list[int], seconds: int):
        super().__init__(parent)
        self.setWindowTitle("Tour the layouts")
        form = QFormLayout(self)
        self.list = QListWidget(self)
        for layout in layouts:
            item = QListWidgetItem(layout.name, self.list)
            item.setData(Qt.ItemDataRole.UserRole, layout.id)
            item.setCheckState(Qt.CheckState.Checked if not chosen or layout.id in chosen
                               else Qt.CheckState.Unchecked)
        self.seconds = QSpinBox(self)
        self.seconds.setRange(2, 3600)
        self.seconds.setValue(seconds)
        self.seconds.setSuffix(" s")
        form.addRow("Layouts", self.list)
        form.addRow("Each for", self.seconds)
        _buttons(self, form)

    def chosen(self) -> list[int]:
        return [self.list.item(r).data(Qt.ItemDataRole.UserRole) for r in range(self.list.count())
                if self.list.item(r).checkState() == Qt.CheckState.Checked]


class ScreenDialog(QDialog):
    def __init__(self, parent, layouts: list[LayoutOut]):
        super().__init__(parent)
        self.setWindowTitle("Open layout on screen")
        form = QFormLayout(self)
        self.layout = QComboBox(self)
        for layout in layouts:
            self.layout.addItem(layout.name, layout.id)
        self.screen = QComboBox(self)
        self.screen.addItems([s.name() for s in QGuiApplication.screens()])
        form.addRow("Layout", self.layout)
        form.addRow("Screen", self.screen)
        _buttons(self, form)
