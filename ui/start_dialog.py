"""“Start recording…”: the group's sources and the tag, seen and confirmed before anything
records (#27 item 6: an entry with an ellipsis opens a dialog; it used to start at once).

The dialog only asks; the Recording panel starts the group when it is accepted, so Cancel
(or Escape, or closing it) starts nothing.
"""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QVBoxLayout,
    QWidget,
)

from ui.icons import icon


class StartRecordingDialog(QDialog):
    def __init__(self, group: str, sources: list[str], tag: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Start recording “{group}”")
        self.group = group
        self.tag_edit = QLineEdit(tag, self)
        self.tag_edit.setClearButtonEnabled(True)
        self.sources = QListWidget(self)
        self.sources.addItems(sources)
        self.sources.setEnabled(bool(sources))
        if not sources:
            self.sources.addItem("(no source in this group)")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, parent=self)
        self.start_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.start_button.setText(f"Start {len(sources)} source(s)")
        self.start_button.setIcon(icon("record"))
        self.start_button.setEnabled(bool(sources) and bool(tag.strip()))
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.tag_edit.textChanged.connect(
            lambda text: self.start_button.setEnabled(bool(sources) and bool(text.strip())))
        form = QFormLayout()
        form.addRow("Group", QLabel(group, self))
        form.addRow("Tag", self.tag_edit)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel(f"These {len(sources)} source(s) will record under the tag:", self))
        layout.addWidget(self.sources)
        layout.addWidget(self.buttons)

    def tag(self) -> str:
        return self.tag_edit.text().strip()
