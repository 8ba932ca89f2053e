"""The main window's side of accounts (#26): who it acts as, what their role lets them do
there, what their scope lets them see, and the lock.

- Acting as: the `AuditedStation` the panels hold names the user in every audit entry and
  refuses calls outside their role; without sign-in (no user) it is as before accounts.
- The role: each control that does an audited action is registered with the `RoleGate`
  under that action's name (`guard_controls`), so a viewer sees Start disabled, its tooltip
  saying "Needs the operator role". Menus built on demand (a tile's, a group's) ask the
  gate as they open.
- The scope: the wall, the source tree and the Events panel show only the sources of the
  user's groups (read on a worker thread with the catalog), and so do the Recordings tab's
  records, timeline lanes and bookmarks (`visible` below); the Audit tab is an admin's.
  The alarm count in the status bar and the tray's alerts are the user's too (ui.alarms).
- Changes an admin makes to the signed-in account (from this window, the API or another
  station of the site: the catalog is shared) apply within USER_CHECK_MS: a new role or scope
  is acted on at once, a disabled, expired or removed account locks the window.
- The lock: `ui.lock.WindowLock`; someone else unlocking switches the window to them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from datetime import datetime, timezone

from PySide6.QtCore import QObject, QTimer

from app.identity import Identity
from app.visibility import in_scope
from app.accounts.service import UserOut
from ui.lock import WindowLock
from ui.session import RoleGate, identity_of

if TYPE_CHECKING:
    from ui.main_window import MainWindow

USER_CHECK_MS = 10_000  # how often the signed-in account is read again


class WindowAccess(QObject):
    def __init__(self, window: "MainWindow", identity: Identity | None):
        super().__init__(window)
        self.window = window
        self.identity: Identity | None = None
        self.gate = RoleGate(self)
        self.lock = WindowLock(window, window.station, window.tasks,
                               window.station.settings.gui_lock_minutes,
                               user=lambda: self.identity, on_unlock=self._unlocked)
        self.guard_controls()
        self.user_check = QTimer(self)
        self.user_check.setInterval(USER_CHECK_MS)
        self.user_check.timeout.connect(self.check_user)
        self.user_check.start()
        self.act_as(identity)
        if identity is not None:
            self._read_again()  # their first reads (building the panels) knew no user yet

    @property
    def role(self) -> str | None:
        return None if self.identity is None else self.identity.role

    def guard_controls(self) -> None:
        """Every control of the window that changes something, by its audit action."""
        w, guard = self.window, self.gate.guard
        for control, action in (
                (w.tags.start_group_button, "start recording"),
                (w.tags.start_selected_button, "start recording"),
                (w.tags.stop_button, "stop recording"),
                (w.tags.stop_all_button, "stop recording"),
                (w.groups.new_group_button, "create group"),
                (w.settings_action, "save settings"),
                (w.add_source_action, "create source"),
                (w.new_group_action, "create group"),
                (w.events.ack_button, "acknowledge event"),
                (w.events.ack_all_button, "acknowledge event"),
                (w.recordings.act_delete, "delete file"),
                (w.recordings.act_protect, "protect record"),
                (w.recordings.act_export, "export footage"),
                (w.recordings.act_save, "copy footage"),
                (w.recordings.act_sync, "start sync"),
                (w.recordings.act_stop, "stop recording"),
                (w.recordings.bookmarks.export_button, "export footage")):
            guard(control, action)
        w.groups.allowed = self.gate.allowed

    def act_as(self, identity: Identity | None) -> None:
        """The window acts as `identity` from now on (None: nobody signed in)."""
        self.identity = identity
        w = self.window
        w.audited.act_as(identity.who if identity else None, self.role, identity)
        self.gate.apply(self.role)
        # Controls the role allows again follow their panel's own rule (a selection, a
        # running record) once more: each panel sets them as it would after a change.
        w.tags.set_selection(w.tags.selected_sources)
        w.tags.refresh()
        w.events._update_buttons()
        w.recordings._update_actions()
        w.recordings.bookmarks._update_buttons()
        w.groups.identity = w.events.identity = w.alarms.identity = identity
        w.status.set_user(identity.name if identity else None, self.role)
        # the audit trail is an admin's to read (GET /api/v1/audit needs admin too)
        w.tabs.setTabVisible(w.tabs.indexOf(w.audit_view), self.role in (None, "admin"))
        self.lock.restart_idle()

    def sign_in_as(self, user: UserOut) -> None:
        """`user` signed in (at start, or unlocking as someone else): their role and scope
        apply, and the wall and the tree are read again for their sources."""
        changed = self.identity is None or self.identity.user_id != user.id
        self.act_as(identity_of(user))
        if changed:
            self.window.reload()
            self._read_again()

    def _read_again(self) -> None:
        """The panels that show sources read them again for the user now acting."""
        w = self.window
        w.events.reload()
        w.alarms.reread()
        w.recordings.schedule_reload()
        w.recordings.timeline.schedule_reload()
        w.recordings.bookmarks.reload()

    def _unlocked(self, user: UserOut) -> None:
        if self.identity is None or self.identity.user_id != user.id:
            self.sign_in_as(user)

    # --- the account changed elsewhere -------------------------------------------------
    def check_user(self) -> None:
        """Read the signed-in account again (on the task runner: the catalog may be remote)."""
        if self.identity is None:
            return
        accounts, user_id = self.window.station.accounts, self.identity.user_id
        self.window.tasks.run(lambda: accounts.by_id(user_id), self._on_user_read)

    def _on_user_read(self, user: UserOut | None, error) -> None:
        current = self.identity
        if error is not None or current is None:
            return
        if user is not None and user.id != current.user_id:
            return  # someone else signed in meanwhile
        expired = user is not None and user.expires_utc is not None \
            and _aware(user.expires_utc) <= datetime.now(timezone.utc)
        if user is None or not user.enabled or expired:
            self.lock.lock()  # only another account can unlock it now
            return
        fresh = identity_of(user)
        if (fresh.role, fresh.groups, fresh.name) != (current.role, current.groups, current.name):
            self.act_as(fresh)
            self.window.reload()
            self._read_again()

    def visible_sources(self, sources: list) -> list:
        """The sources the user may see, of `sources` (runs on a worker thread: the scope
        is read from the catalog, which may be a network database)."""
        visible = self.window.station.scope.sources(self.identity)
        return [s for s in sources if in_scope(s.id, visible)]

    def visible_groups(self, groups: list) -> list:
        shown = self.window.station.scope.groups(self.identity)
        return [g for g in groups if shown is None or g.id in shown]


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
