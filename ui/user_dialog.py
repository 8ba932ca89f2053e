"""One account's form for the Users page (#26): a new user (name, display name, role, scope,
password) or an existing one's role, display name and scope. The scope is a checklist of the
station's groups; "Every source" unticked with no group ticked is an empty scope (the user
sees no source), which the form says rather than refuses.

The form only collects; the page calls `AccountService`, whose rules (name, password length,
the last admin) decide, and shows its `AccountError` here."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.accounts.models import ROLES
from app.accounts.service import UserOut


class UserDialog(QDialog):
    """`values()` is what to create or change: name, display_name, role, scope and (new
    accounts only) password."""

    def __init__(self, groups: list[tuple[int, str]], parent: QWidget | None = None, *,
                 user: UserOut | None = None):
        super().__init__(parent)
        self.user = user
        self.setWindowTitle("Add a user" if user is None else f"Edit the user {user.name}")
        self.name_edit = QLineEdit(user.name if user else "")
        self.name_edit.setReadOnly(user is not None)
        self.name_edit.setPlaceholderText("a-z, 0-9, . _ -")
        self.display_edit = QLineEdit((user.display_name or "") if user else "")
        self.role_box = QComboBox()
        self.role_box.addItems(list(ROLES))
        self.role_box.setCurrentText(user.role if user else "viewer")
        self.every_source = QCheckBox("Every source (no scope)")
        self.groups = QListWidget()
        for group_id, name in groups:
            item = QListWidgetItem(name)
            item.setData(Qt.ItemDataRole.UserRole, group_id)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            scoped = user is not None and user.scope is not None and group_id in user.scope
            item.setCheckState(Qt.CheckState.Checked if scoped else Qt.CheckState.Unchecked)
            self.groups.addItem(item)
        self.every_source.toggled.connect(lambda on: self.groups.setEnabled(not on))
        self.every_source.setChecked(user is None or user.scope is None)
        self.groups.setEnabled(not self.every_source.isChecked())
        self.password_edit = QLineEdit()
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText("at least 8 characters")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #c53030;")
        form = QFormLayout()
        form.addRow("User name", self.name_edit)
        form.addRow("Display name", self.display_edit)
        form.addRow("Role", self.role_box)
        form.addRow("Scope", self.every_source)
        form.addRow("", self.groups)
        if user is None:
            form.addRow("Password", self.password_edit)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                   | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok_button = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Add" if user is None else "Save")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(buttons)

    def scope(self) -> list[int] | None:
        if self.every_source.isChecked():
            return None
        return [self.groups.item(i).data(Qt.ItemDataRole.UserRole)
                for i in range(self.groups.count())
                if self.groups.item(i).checkState() == Qt.CheckState.Checked]

    def check_group(self, name: str, on: bool = True) -> None:
        """Tick (or untick) a group of the scope by its name (tests, keyboard users)."""
        for item in self.groups.findItems(name, Qt.MatchFlag.MatchExactly):
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    def values(self) -> dict[str, Any]:
        values: dict[str, Any] = {"name": self.name_edit.text().strip(),
                                  "display_name": self.display_edit.text().strip() or None,
                                  "role": self.role_box.currentText(), "scope": self.scope()}
        if self.user is None:
            values["password"] = self.password_edit.text()
        return values
