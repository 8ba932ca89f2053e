"""Settings › Users (#26), for admins: the station's accounts — add one, change its role,
display name and scope, reset its password, disable or enable it, delete it — and the
selected account's sessions and personal tokens, each revocable (or all at once).

Everything goes through the services every door shares (`station.accounts`,
`station.tokens`) on worker threads (a password is hashed with scrypt); the service's rules
decide (valid names, eight characters, the last enabled admin kept) and its `AccountError`
is shown on the page as it is worded. The account service audits its own changes, naming
the signed-in admin; a revoked token is audited here (the token service keeps no trail).
No password or token is ever shown, logged or kept by the page."""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.accounts.service import AccountError, UserOut
from ui.tasks import TaskRunner
from ui.user_dialog import UserDialog

USER_COLUMNS = ["Name", "Display name", "Role", "Scope", "State"]
TOKEN_COLUMNS = ["Kind", "Name", "Created", "Expires", "Last used"]


def _table(columns: list[str]) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    return table


def _when(value) -> str:
    """A token's time (UTC from the catalog) in the operator's local time."""
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value is not None else "—"


class UsersPage(QWidget):
    """`who` names the admin in the trail. `ask`, `ask_password` and `confirm` are the
    page's questions to the operator (tests answer them instead)."""

    def __init__(self, station: Any, tasks: TaskRunner, who: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.station, self.tasks, self.who = station, tasks, who
        self.users: list[UserOut] = []
        self.group_names: dict[int, str] = {}
        self.tokens: list[Any] = []
        self.busy = 0  # service calls under way (tests wait on it)
        self._after_reload: str | None = None  # the account to select once the list is read
        self.table = _table(USER_COLUMNS)
        self.table.itemSelectionChanged.connect(self._selected)
        self.add_button = QPushButton("Add…")
        self.edit_button = QPushButton("Edit…")
        self.password_button = QPushButton("Reset password…")
        self.enable_button = QPushButton("Disable")
        self.delete_button = QPushButton("Delete…")
        self.add_button.clicked.connect(self.add_user)
        self.edit_button.clicked.connect(self.edit_user)
        self.password_button.clicked.connect(self.reset_password)
        self.enable_button.clicked.connect(self.toggle_enabled)
        self.delete_button.clicked.connect(self.delete_user)
        self.token_table = _table(TOKEN_COLUMNS)
        self.revoke_button = QPushButton("Revoke")
        self.revoke_all_button = QPushButton("Revoke all (sign out everywhere)")
        self.revoke_button.clicked.connect(self.revoke_token)
        self.revoke_all_button.clicked.connect(self.revoke_all)
        self.message = QLabel("")
        self.message.setObjectName("users_message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        user_buttons = QHBoxLayout()
        for button in (self.add_button, self.edit_button, self.password_button,
                       self.enable_button, self.delete_button):
            user_buttons.addWidget(button)
        user_buttons.addStretch(1)
        token_buttons = QHBoxLayout()
        token_buttons.addWidget(self.revoke_button)
        token_buttons.addWidget(self.revoke_all_button)
        token_buttons.addStretch(1)
        self.tokens_title = QLabel("Sessions and tokens")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Who may use this station, with which role, and which groups' "
                                "sources they see."))
        layout.addWidget(self.table, 3)
        layout.addLayout(user_buttons)
        layout.addWidget(self.tokens_title)
        layout.addWidget(self.token_table, 2)
        layout.addLayout(token_buttons)
        layout.addWidget(self.message)
        self._selected()
        self.reload()

    # --- questions (tests replace these) ------------------------------------------------------
    def ask(self, dialog: UserDialog) -> bool:
        return dialog.exec() == UserDialog.DialogCode.Accepted

    def ask_password(self, name: str) -> str | None:
        text, ok = QInputDialog.getText(self, "Reset password", f"New password for {name}:",
                                        QLineEdit.EchoMode.Password)
        return text if ok else None

    def confirm(self, text: str) -> bool:
        answer = QMessageBox.question(self, "Users", text)
        return answer == QMessageBox.StandardButton.Yes

    # --- reading ------------------------------------------------------------------------------
    def reload(self) -> None:
        accounts, groups = self.station.accounts, self.station.groups
        self._call(lambda: (accounts.list(), [(g.id, g.name) for g in groups.list()]),
                   self._fill, quiet=True)

    def _fill(self, result) -> None:
        self.users, groups = result
        self.group_names = dict(groups)
        chosen = self.current()
        self.table.setRowCount(len(self.users))
        for row, user in enumerate(self.users):
            scope = ("every source" if user.scope is None else
                     ", ".join(self.group_names.get(g, f"group {g}") for g in user.scope)
                     or "no source")
            cells = [user.name, user.display_name or "", user.role, scope,
                     "enabled" if user.enabled else "disabled"]
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))
            if chosen is not None and user.id == chosen.id:
                self.table.selectRow(row)
        self._selected()

    def current(self) -> UserOut | None:
        row = self.table.currentRow()
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.users[row] if rows and 0 <= row < len(self.users) else None

    def select(self, name: str) -> None:
        for row, user in enumerate(self.users):
            if user.name == name:
                self.table.selectRow(row)

    def _selected(self) -> None:
        user = self.current()
        for button in (self.edit_button, self.password_button, self.enable_button,
                       self.delete_button, self.revoke_all_button):
            button.setEnabled(user is not None)
        self.enable_button.setText("Enable" if user is not None and not user.enabled
                                   else "Disable")
        self.tokens_title.setText(f"Sessions and tokens of {user.name}" if user
                                  else "Sessions and tokens")
        self.load_tokens()

    def load_tokens(self) -> None:
        user = self.current()
        if user is None:
            self._show_tokens([])
            return
        tokens = self.station.tokens
        self._call(lambda: tokens.list(user.id), self._show_tokens, quiet=True)

    def _show_tokens(self, tokens) -> None:
        self.tokens = list(tokens)
        self.token_table.setRowCount(len(self.tokens))
        for row, token in enumerate(self.tokens):
            cells = [token.kind, token.name, _when(token.created_utc), _when(token.expires_utc),
                     _when(token.last_used_utc)]
            for column, text in enumerate(cells):
                self.token_table.setItem(row, column, QTableWidgetItem(text))
        self.revoke_button.setEnabled(bool(self.tokens))

    # --- changing -----------------------------------------------------------------------------
    def add_user(self) -> None:
        dialog = UserDialog(sorted(self.group_names.items(), key=lambda kv: kv[1]), self)
        if not self.ask(dialog):
            return
        v, accounts, who = dialog.values(), self.station.accounts, self.who
        self._call(lambda: accounts.create(v["name"], v["password"], role=v["role"],
                                           display_name=v["display_name"], scope=v["scope"],
                                           who=who),
                   lambda user: self._done(f"Added {user.name} ({user.role}).", user.name))

    def edit_user(self) -> None:
        user = self.current()
        if user is None:
            return
        dialog = UserDialog(sorted(self.group_names.items(), key=lambda kv: kv[1]), self,
                            user=user)
        if not self.ask(dialog):
            return
        v, accounts, who = dialog.values(), self.station.accounts, self.who
        self._call(lambda: accounts.update(user.name, who=who, role=v["role"], scope=v["scope"],
                                           display_name=v["display_name"]),
                   lambda out: self._done(f"Saved {out.name}.", out.name))

    def reset_password(self) -> None:
        user = self.current()
        password = self.ask_password(user.name) if user is not None else None
        if not password:
            return
        accounts, who = self.station.accounts, self.who
        self._call(lambda: accounts.set_password(user.name, password, who=who),
                   lambda out: self._done(f"New password set for {out.name}; their sessions "
                                          "ended.", out.name))

    def toggle_enabled(self) -> None:
        user = self.current()
        if user is None:
            return
        accounts, who = self.station.accounts, self.who
        change = accounts.enable if not user.enabled else accounts.disable
        self._call(lambda: change(user.name, who=who),
                   lambda out: self._done(f"{out.name} is {'enabled' if out.enabled else 'disabled'}.",
                                          out.name))

    def delete_user(self) -> None:
        user = self.current()
        if user is None or not self.confirm(f"Delete the user {user.name}, with their sessions "
                                            "and tokens? Their audit entries stay."):
            return
        accounts, who = self.station.accounts, self.who
        self._call(lambda: accounts.delete(user.name, who=who),
                   lambda out: self._done(f"Deleted {out.name}."))

    def revoke_token(self) -> None:
        user, row = self.current(), self.token_table.currentRow()
        if user is None or not 0 <= row < len(self.tokens):
            return
        token, tokens = self.tokens[row], self.station.tokens
        self._call(lambda: tokens.revoke(user.id, token.id),
                   lambda _out: self._revoked(user, f"{token.kind} {token.name}"))

    def revoke_all(self) -> None:
        user = self.current()
        if user is None:
            return
        tokens = self.station.tokens
        self._call(lambda: tokens.revoke_all(user.id),
                   lambda count: self._revoked(user, f"all ({count})"))

    def _revoked(self, user: UserOut, what: str) -> None:
        audit = getattr(self.station, "audit", None)
        if audit is not None:
            audit.record(dialect="gui", address="local", who=self.who, action="revoke token",
                         target=f"user {user.name}, {what}", result="ok")
        self._done(f"Revoked {what} of {user.name}.", user.name)

    def _done(self, message: str, select: str | None = None) -> None:
        self.message.setStyleSheet("")
        self.message.setText(message)
        self._after_reload = select
        self.reload()

    def _call(self, fn: Callable[[], Any], then: Callable[[Any], None], *,
              quiet: bool = False) -> None:
        """A service call off the GUI thread; an AccountError is shown as the service words
        it, anything else as what kind of failure it was (its text may hold a database URL)."""
        self.busy += 1

        def done(result, error: BaseException | None) -> None:
            self.busy -= 1
            if error is None:
                then(result)
                if quiet and self._after_reload:
                    self.select(self._after_reload)
                    self._after_reload = None
                return
            text = str(error) if isinstance(error, AccountError) else \
                f"Could not do that ({type(error).__name__})."
            self.message.setStyleSheet("color: #c53030;")
            self.message.setText(text)
        self.tasks.run(fn, done)
