"""The operator's answer to a Device Connect application that asks for an access token
(when `dc_auto_approve` is off): one non-modal question per request, Allow or Deny, and which
user account the application acts as (#26: its role bounds what it may do, its scope which
cameras exist for it; the default is `dc_user`, else the viewer role). The request waits in
the core meanwhile; when it ends elsewhere (it timed out, or was decided by another window)
its question closes by itself."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QComboBox, QLabel, QMessageBox, QPushButton, QWidget

from app.station import Station
from ui.bridge import EventBridge
from ui.icons import icon


class AccessRequestDialog(QMessageBox):
    """“<application> asks to control this station” with the page it runs in and the scopes."""

    def __init__(self, request_id: str, application_name: str, scopes, origin: str,
                 parent: QWidget | None = None, users: list[tuple[str, str]] = ()):
        super().__init__(QMessageBox.Icon.Question, "Device Connect access",
                         f"“{application_name}” asks to control this station.",
                         QMessageBox.StandardButton.NoButton, parent)
        self.request_id = request_id
        self.setWindowIcon(icon("key"))
        self.setWindowModality(Qt.WindowModality.NonModal)
        where = f"From the page {origin}.\n" if origin else ""
        self.setInformativeText(
            f"{where}It may start, pause and stop recordings, take photos and watch the "
            f"cameras. Scopes: {', '.join(scopes)}.")
        # Whom it acts as: (label, account name); "" is the default (`dc_user` or viewer)
        self.acts_as = QComboBox(self)
        self.acts_as.setAccessibleName("Acts as")
        for label, name in users or [("Viewer (watch and play only)", "")]:
            self.acts_as.addItem(label, name)
        grid = self.layout()
        row = grid.rowCount()
        grid.addWidget(QLabel("Acts as:", self), row, 1)
        grid.addWidget(self.acts_as, row + 1, 1, 1, grid.columnCount() - 1)
        self.allow_button: QPushButton = self.addButton("Allow", QMessageBox.ButtonRole.AcceptRole)
        self.deny_button: QPushButton = self.addButton("Deny", QMessageBox.ButtonRole.RejectRole)
        self.setDefaultButton(self.deny_button)
        self.setEscapeButton(self.deny_button)


class AccessApprovals(QObject):
    """Shows a question for each access request the bridge reports and hands the answer to
    `station.dc_auth.decide`; `dialogs` holds the open questions by request id."""

    def __init__(self, station: Station, bridge: EventBridge, parent: QWidget | None = None):
        super().__init__(parent)
        self.station, self.parent_widget = station, parent
        self.dialogs: dict[str, AccessRequestDialog] = {}
        bridge.access_requested.connect(self._ask)
        bridge.access_decided.connect(self._ended)
        for pending in station.dc_auth.pending():  # asked before the window existed
            self._ask(pending.request_id, pending.client_id, pending.application_name,
                      pending.scopes, pending.origin)

    def _ask(self, request_id: str, _client_id: str, application_name: str, scopes,
             origin: str) -> None:
        if request_id in self.dialogs:
            return
        dialog = AccessRequestDialog(request_id, application_name, scopes, origin,
                                     self.parent_widget, self._users())
        dialog.finished.connect(lambda _result, d=dialog: self._answered(d))
        self.dialogs[request_id] = dialog
        dialog.open()

    def _users(self) -> list[tuple[str, str]]:
        """The choices: the default first, then every enabled account with its role."""
        default = self.station.settings.dc_user
        first = (f"{default} (dc_user)" if default else "Viewer (watch and play only)", "")
        try:
            accounts = [u for u in self.station.accounts.list() if u.enabled]
        except Exception:  # noqa: BLE001 - the catalog away: the default alone
            accounts = []
        return [first, *((f"{u.name} — {u.role}", u.name) for u in accounts)]

    def _answered(self, dialog: AccessRequestDialog) -> None:
        if self.dialogs.pop(dialog.request_id, None) is None:
            return  # closed because the request ended elsewhere
        approved = dialog.clickedButton() is dialog.allow_button
        chosen = dialog.acts_as.currentData() or None
        acts_as = self.station.tokens.identity_named(chosen, via="device connect") \
            if chosen else None
        self.station.dc_auth.decide(dialog.request_id, approved, acts_as)
        dialog.deleteLater()

    def _ended(self, request_id: str, _outcome: str) -> None:
        dialog = self.dialogs.pop(request_id, None)
        if dialog is not None:
            dialog.done(0)
            dialog.deleteLater()


def install_access_approvals(station: Station, bridge: EventBridge,
                            parent: QWidget | None = None) -> AccessApprovals:
    """Answer Device Connect access requests from this window (the main window's job)."""
    return AccessApprovals(station, bridge, parent)
