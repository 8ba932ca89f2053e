"""The station's settings, in pages an operator finds things in (#27 item 8): General
(name, recordings and exports folders), Recording, Storage (with the live disk figures),
Cameras, Alerts, Users (for admins), then under "Integrations" the API, Device Connect,
Huawei Cloud, MQTT, Site and Security. A list on the left picks the page (no tab bar to
scroll on a small screen); each page scrolls vertically, never sideways, and the dialog fits
a 1366x768 screen. The pages are laid out in ui.settings_pages; this module reads, checks,
saves and audits the values, whichever page shows them.

Saved to the TOML config file (only what the operator changed; other keys in the file are
kept). What a running station can take over (disk floor, retention, segments, fsync,
pre-roll, names and identifiers) applies at once; what it cannot (the API socket and token,
the storage folder, the database, MQTT's broker) is saved and the dialog says a restart is due.

Entry point for the main window:
    SettingsDialog(settings, parent=None, *, station=None, config_file=None)
`station` is the running station the changes apply to (the main window passes its own): a
save is its `SettingsService.change`, which checks, writes the file, applies and audits in
one place, as the operator's OS user; without a station the dialog only writes the file
(nothing runs to apply to or audit in) and every change waits for a restart.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Callable

from pydantic import ValidationError

from app.accounts.roles import may
from app.alarms.kinds import KINDS
from app.audited import os_user
from app.services.settings import SettingsRefused, problems_of
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.settings import (
    RESTART_FIELDS,
    Settings,
    default_config_file,
    env_override,
    read_config,
    save_settings,
)
from app.station import Station
from ui.forms import DIALOG_STYLE, Banner, Form, hint_label, if_alive
from ui.icons import icon
from ui.recordings.recordings_model import human_size, local_time
from ui.settings_pages import LABELS, SettingsPages
from ui.tasks import TaskRunner

HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")
# What the dialog asks for at most: a 1366x768 screen less a taskbar and the window frame.
PREFERRED = QSize(860, 620)
PATH_FIELDS = ("storage_dir", "export_dir", "tls_cert", "tls_key")


def restart_label(fields) -> str:
    order = list(LABELS)
    ranked = sorted(fields, key=lambda name: order.index(name) if name in order else len(order))
    return ", ".join(LABELS.get(name, name) for name in ranked)


class SettingsDialog(SettingsPages, QDialog):
    saved = Signal(object)  # the Settings the saved file gives

    def __init__(self, settings: Settings, parent: QWidget | None = None, *,
                 station: Station | None = None, config_file: Path | None = None,
                 who: str | None = None, role: str | None = None,
                 tasks: TaskRunner | None = None):
        super().__init__(parent)
        self.station = station
        self.who, self.role, self.tasks = who or os_user(), role, tasks
        self.settings = settings  # what the station runs with
        self.base = settings      # what the next save builds on (the last saved settings)
        self.config_file = config_file or default_config_file()
        self.fields: dict[str, tuple[Form, QWidget, Callable[[], Any], Callable[[Any], None]]] = {}
        self.restart_pending: set[str] = set()
        self.setWindowTitle("Settings")
        self.setStyleSheet(DIALOG_STYLE)
        self._build()
        self.initial = self._initial_values()
        for key, value in self.initial.items():
            self.fields[key][3](value)
        self._show_env_overrides()
        self._show_waiting_restart()
        self.resize(self._fitting(PREFERRED))

    # --- building --------------------------------------------------------------------------
    def _build(self) -> None:
        self.banner = Banner()
        self.nav = QListWidget()
        self.nav.setObjectName("settingsPages")
        self.nav.setFixedWidth(170)
        self.nav.setIconSize(QSize(18, 18))
        self.stack = QStackedWidget()
        self.pages: dict[str, QWidget] = {}
        entries = self.page_list()
        users = self.station is not None and self.tasks is not None and may(self.role, "create user")
        if users:
            entries.insert(entries.index(None), ("Users", "key", self._users_page))
        for entry in entries:
            if entry is None:  # the heading of what an integrator sets up once
                heading = QListWidgetItem("Integrations")
                heading.setFlags(Qt.ItemFlag.NoItemFlags)
                font = QFont(self.nav.font())
                font.setBold(True)
                heading.setFont(font)
                self.nav.addItem(heading)
                continue
            title, icon_name, builder = entry
            page = builder()
            self.pages[title] = page
            item = QListWidgetItem(icon(icon_name), title)
            item.setData(Qt.ItemDataRole.UserRole, title)
            self.nav.addItem(item)
            self.stack.addWidget(page)
        self.nav.currentItemChanged.connect(self._picked)
        self.nav.setCurrentRow(0)
        where = hint_label(f"Saved to {self.config_file}")
        self.buttons = QDialogButtonBox(self)
        self.save_button = self.buttons.addButton("Save", QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setDefault(True)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.close_button.setAutoDefault(False)
        self.save_button.clicked.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        body = QHBoxLayout()
        body.setSpacing(12)
        body.addWidget(self.nav)
        body.addWidget(self.stack, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 14, 14, 12)
        layout.setSpacing(10)
        layout.addWidget(self.banner)
        layout.addLayout(body, 1)
        layout.addWidget(where)
        layout.addWidget(self.buttons)

    def _users_page(self) -> QWidget:
        from ui.users_page import UsersPage

        self.users_page = UsersPage(self.station, self.tasks, self.who)
        return self.users_page

    def _picked(self, item: QListWidgetItem | None, _previous=None) -> None:
        title = item.data(Qt.ItemDataRole.UserRole) if item is not None else None
        if title in self.pages:
            self.stack.setCurrentWidget(self.pages[title])

    def page_titles(self) -> list[str]:
        """The pages in the list's order (the Integrations heading is no page)."""
        return list(self.pages)

    def show_page(self, title: str) -> None:
        for row in range(self.nav.count()):
            if self.nav.item(row).data(Qt.ItemDataRole.UserRole) == title:
                self.nav.setCurrentRow(row)

    def current_page(self) -> str:
        return next(t for t, page in self.pages.items() if page is self.stack.currentWidget())

    def _fitting(self, wanted: QSize) -> QSize:
        """`wanted`, shrunk to the screen's available area (less a frame) when smaller."""
        screen = (self.parentWidget().screen() if self.parentWidget() is not None
                  else QGuiApplication.primaryScreen())
        if screen is None:
            return wanted
        room = screen.availableGeometry().size() - QSize(16, 40)
        return wanted.boundedTo(room)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """The preferred size, not the sum of every page's fields: pages scroll."""
        return PREFERRED

    def _figures_label(self) -> QLabel:
        """Where the disk stands now (the storage guard's figures, refreshed while the
        dialog is open)."""
        self.disk_figures = QLabel("—")
        self.disk_figures.setObjectName("diskFigures")
        self.disk_figures.setWordWrap(True)
        self.disk_figures.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self._figures_timer = QTimer(self, interval=2000)
        self._figures_timer.timeout.connect(self.refresh_figures)
        self._figure_tasks: TaskRunner | None = None
        if self.station is not None:
            self._figures_timer.start()
            QTimer.singleShot(0, self.refresh_figures)
        else:
            self.disk_figures.setText("The figures show when the station runs.")
        return self.disk_figures

    @if_alive
    def refresh_figures(self) -> None:
        """Ask the storage service where the disk stands, off the GUI thread."""
        storage = self.station.storage if self.station is not None else None
        if storage is None or (self._figure_tasks is not None and self._figure_tasks.pending):
            return
        if self._figure_tasks is None:  # no parent: it may outlive a dialog deleted under it
            self._figure_tasks = TaskRunner()
        self._figure_tasks.run(storage.status, self._show_figures)

    @if_alive
    def _show_figures(self, status, error) -> None:
        if error is not None:
            self.disk_figures.setText(f"Could not measure the disk: {error}")
            return
        lines = []
        for name, fs in (("Recordings", status.storage), ("Database", status.catalog)):
            if fs is None or (name == "Database" and status.same_filesystem):
                continue
            mark = " — under the floor" if fs.below_floor else ""
            lines.append(f"{name}: {human_size(fs.free_bytes)} free of "
                         f"{human_size(fs.total_bytes)}{mark}")
        if status.same_filesystem and status.catalog is not None:
            lines[0] += " (the database on the same disk)"
        lines.append(f"Used by recordings: {human_size(status.used_by_recordings_bytes)} in "
                     f"{status.records_with_files} file(s), {status.protected_records} protected")
        oldest = status.oldest_record
        if oldest is not None:
            lock = ", protected" if oldest.protected else ""
            lines.append(f"Oldest: “{oldest.tag_name}” from {local_time(oldest.begin_utc)} "
                         f"({human_size(oldest.size_bytes)}{lock})")
        retention = status.retention
        if retention.last_pass_utc:
            lines.append(f"Retention last looked {local_time(retention.last_pass_utc)}: "
                         f"{retention.deleted_since_start} file(s) deleted since start")
        if status.stopped_reason:
            lines.append(f"{local_time(status.stopped_utc)}: {status.stopped_reason}")
        self.disk_figures.setText("\n".join(lines))

    def done(self, result: int) -> None:  # noqa: D102 - QDialog.done, and stop the figures
        self._figures_timer.stop()
        if self._figure_tasks is not None:
            self._figure_tasks.shutdown()
        super().done(result)

    # --- values ----------------------------------------------------------------------------
    def _default_database(self) -> str:
        return f"sqlite:///{self.settings.data_dir / 'catalog.sqlite3'}"

    def _initial_values(self) -> dict[str, Any]:
        """What the station runs with, except that a saved change still waiting for a restart
        shows as saved (unless an environment variable overrides the file)."""
        values = {key: getattr(self.settings, key) for key in self.fields}
        if values["storage_dir"] == self.settings.data_dir / "recordings":
            values["storage_dir"] = None
        if values["database_url"] == self._default_database():
            values["database_url"] = None
        if values["sync_dirs"] == [self.settings.data_dir / "exports"]:
            values["sync_dirs"] = []
        saved = read_config(self.config_file)
        for key in RESTART_FIELDS & set(self.fields):
            if key in saved and env_override(key) is None:
                values[key] = saved[key]
        return {key: self._normal(key, value) for key, value in values.items()}

    @staticmethod
    def _normal(key: str, value: Any) -> Any:
        if key in PATH_FIELDS and value is not None:
            return str(Path(value).expanduser())
        if key in ("media_dirs", "sync_dirs"):
            return [str(Path(v).expanduser()) for v in value or ()]
        if key == "alert_kinds":  # the kinds the dialog offers, in their order
            return [name for name in KINDS if name in (value or ())]
        return value

    def values(self) -> dict[str, Any]:
        return {key: self._normal(key, field[2]()) for key, field in self.fields.items()}

    def changes(self) -> dict[str, Any]:
        return {key: value for key, value in self.values().items() if value != self.initial[key]}

    # --- notices ---------------------------------------------------------------------------
    def _show_env_overrides(self) -> None:
        for key, (form, *_rest) in self.fields.items():
            variable = env_override(key)
            if variable:
                hint = form.hints.get(key)
                text = f"Set by {variable} in the environment, which wins over this file."
                if hint is not None:
                    hint.setText(f"{hint.text()}\n{text}")

    def _show_waiting_restart(self) -> None:
        waiting = {key for key in RESTART_FIELDS & set(self.fields)
                   if self.initial[key] != self._normal(key, self._running(key))}
        if waiting:
            self.restart_pending = waiting
            self.banner.show_message("info", f"Saved, waiting for a restart: {restart_label(waiting)}.")

    def _running(self, key: str) -> Any:
        value = getattr(self.settings, key)
        if key == "storage_dir" and value == self.settings.data_dir / "recordings":
            return None
        if key == "database_url" and value == self._default_database():
            return None
        if key == "sync_dirs" and value == [self.settings.data_dir / "exports"]:
            return []
        return value

    # --- saving ----------------------------------------------------------------------------
    def check(self, values: dict[str, Any]) -> dict[str, str]:
        """What the form can tell is wrong before the settings model sees it."""
        problems = {}
        host = values["host"] or ""
        if not host:
            problems["host"] = "Enter an address, e.g. 127.0.0.1."
        elif host != "localhost":
            try:
                loopback = ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = False
                if not HOSTNAME.match(host):
                    problems["host"] = "Not an IP address or a host name."
            if not loopback and not values["token"] and "host" not in problems:
                problems["token"] = (f"The API would listen on {host}, beyond this computer: "
                                     "set a token (or bind to 127.0.0.1).")
        for key in ("storage_dir", "export_dir"):  # folders the station writes into
            folder = values[key]
            if not folder:
                continue
            path = Path(folder).expanduser()
            if not path.is_absolute():
                problems[key] = "Give the full path of the folder."
            elif path.exists() and not path.is_dir():
                problems[key] = "That is a file, not a folder."
            elif path.exists() and not os.access(path, os.W_OK | os.X_OK):
                problems[key] = "The station cannot write in that folder."
        url = values["huawei_callback_url"]
        if url and not url.lower().startswith(("http://", "https://")):
            problems["huawei_callback_url"] = "A callback URL starts with http:// or https://."
        database = values["database_url"]
        if database and "://" not in database:
            problems["database_url"] = "A database URL looks like sqlite:///path or postgresql+psycopg://…"
        return problems

    def show_error(self, key: str, message: str) -> None:
        if key in self.fields:
            form = self.fields[key][0]
            form.show_error(key, message)
            for title, page in self.pages.items():
                if page.isAncestorOf(form):
                    self.show_page(title)
        else:
            self.banner.show_message("error", message)

    def error_for(self, key: str) -> str:
        return self.fields[key][0].error_text(key)

    def save(self) -> None:
        self.banner.clear()
        for form, *_rest in self.fields.values():
            form.clear_errors()
        problems = self.check(self.values())
        for key, message in reversed(problems.items()):
            self.show_error(key, message)
        if problems:
            return
        changes = self.changes()
        if not changes:
            self.accept()
            return
        stored = {k: (Path(v) if k in PATH_FIELDS and v else v) for k, v in changes.items()}
        try:
            if self.station is not None:
                done = self.station.settings_service.change(
                    stored, {"dialect": "gui", "address": "local", "who": self.who})
                new, later = done.saved, set(done.restart)
            else:
                new, later = save_settings(self.base, stored, self.config_file), set(changes)
        except (SettingsRefused, ValidationError) as exc:
            problems = exc.problems if isinstance(exc, SettingsRefused) else problems_of(exc)
            for key, message in problems.items():
                self.show_error(key, message)
            return
        except OSError as exc:
            self.banner.show_message("error", f"Could not write {self.config_file}: {exc.strerror or exc}")
            return
        applied = set(changes) - later
        self.initial, self.base = self.values(), new
        self.restart_pending = (self.restart_pending | later) & set(self.fields)
        self.saved.emit(new)
        if later:
            now = f" Applied now: {restart_label(applied)}." if applied else ""
            self.banner.show_message("info", f"Saved.{now} Restart Recording Station to apply: "
                                             f"{restart_label(later)}.")
            self.close_button.setText("Close")
        else:
            self.accept()
