"""Who the window acts as (#26): the signed-in user's `Identity`, or nobody when sign-in is
off (then every action stays enabled, as before accounts), and what that means for the
widgets: an action outside the user's role is disabled with a tooltip saying which role it
needs. The rule itself is `app.accounts.roles.may`, the one table every door asks; the
services refuse the same calls again (`AuditedStation`'s role), so a shortcut key reaches
no further than a disabled button."""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget

from app.identity import Identity
from app.accounts.roles import ACTION_ROLES, may
from app.accounts.service import UserOut
from app.audited import os_user


def identity_of(user: UserOut) -> Identity:
    """The GUI's identity for a user who just signed in with their password."""
    groups = None if user.scope is None else tuple(user.scope)
    return Identity(user_id=user.id, name=user.name, role=user.role, groups=groups)


def who_of(station: Any) -> str:
    """The name the audit trail gives the GUI's operator: the signed-in user, or the OS user
    (an `AuditedStation` carries it as its actor)."""
    actor = getattr(station, "actor", None)
    return actor["who"] if isinstance(actor, dict) else os_user()


def visible_sources(station: Any) -> frozenset[int] | None:
    """The ids of the sources the window's user may see (None: every source): the scope the
    `AuditedStation` acts with; a plain station (tests, no sign-in) sees all. Reads the
    catalog: call it on a worker thread, as the panels' fetches do."""
    ask = getattr(station, "visible_sources", None)
    return ask() if callable(ask) else None


def refusal(action: str) -> str:
    return f"Needs the {ACTION_ROLES[action]} role"


class RoleGate(QObject):
    """The widgets and menu actions that do an audited action, by that action's name:
    `apply(role)` enables what the role may do and disables the rest, telling why. Each
    control keeps its own tooltip while allowed. Panels enable their buttons for reasons of
    their own (a selection): a refused control enabled again is disabled again at once (its
    `changed` signal, or its EnabledChange event)."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.role: str | None = None
        self._controls: list[tuple[QWidget | QAction, str, str]] = []  # control, action, tip

    def guard(self, control: QWidget | QAction, action: str) -> None:
        ACTION_ROLES[action]  # a name outside the vocabulary fails here, not silently
        self._controls.append((control, action, control.toolTip()))
        if isinstance(control, QAction):
            control.changed.connect(lambda c=control, a=action: self._enforce(c, a))
        else:
            control.installEventFilter(self)
        self._show(control, action, self._controls[-1][2])

    def allowed(self, action: str) -> bool:
        return may(self.role, action)

    def apply(self, role: str | None) -> None:
        self.role = role
        for control, action, tip in self._controls:
            self._show(control, action, tip)

    def refused(self) -> list[QWidget | QAction]:
        """The controls disabled by the role now (tests look at them)."""
        return [c for c, action, _tip in self._controls if not self.allowed(action)]

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt naming
        if event.type() == QEvent.Type.EnabledChange:
            for control, action, _tip in self._controls:
                if control is watched:
                    self._enforce(control, action)
        return False

    def _enforce(self, control: QWidget | QAction, action: str) -> None:
        if not self.allowed(action) and control.isEnabled():
            control.setEnabled(False)

    def _show(self, control: QWidget | QAction, action: str, tip: str) -> None:
        ok = self.allowed(action)
        control.setToolTip(tip if ok else refusal(action))
        if not ok:
            control.setEnabled(False)
        elif not control.isEnabled() and control.property("role_refused"):
            control.setEnabled(True)  # refused before: the panel's own rule decides again
        control.setProperty("role_refused", not ok)


def gate_menu(menu: QMenu, needs: dict[str, str], allowed: Callable[[str], bool]) -> None:
    """A context menu built on demand: its entries named in `needs` (text -> action) that
    the role may not do are disabled, with the reason as their tooltip."""
    menu.setToolTipsVisible(True)
    for entry in menu.actions():
        action = needs.get(entry.text())
        if action is not None and not allowed(action):
            entry.setEnabled(False)
            entry.setToolTip(refusal(action))
