"""The station's settings: storage (the disk floor, retention, file segments, fsync, with the
live disk figures), recording, the alerts (which event kinds the window announces from the
tray, with a sound or not), the API socket and token, the identifiers the
Huawei and Device Connect dialects answer to. Saved to the TOML config file (only what the
operator changed; other keys in the file are kept). What a running station can take over
(disk floor, retention, segments, fsync, pre-roll, names and identifiers) applies at once; what it cannot (the API socket
and token, the storage folder, the database) is saved and the dialog says a restart is due.

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
import secrets
from pathlib import Path
from typing import Any, Callable

from pydantic import ValidationError

from app.accounts.roles import may
from app.alarms.kinds import KINDS
from app.audited import os_user
from app.services.settings import SettingsRefused, problems_of
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
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
from ui.forms import DIALOG_STYLE, Banner, Form, SecretEdit, hint_label, if_alive, section_title
from ui.icons import icon
from ui.recordings.recordings_model import human_size, local_time
from ui.tasks import TaskRunner

LABELS = {
    "station_name": "Station name", "storage_dir": "Storage folder", "database_url": "Catalog database",
    "preroll_s": "Pre-roll", "preroll_mb": "Pre-roll memory", "disk_floor_mb": "Keep free on disk",
    "host": "Bind address", "port": "Port", "token": "Access token",
    "huawei_project_id": "Project ID", "huawei_app_id": "RTC app ID", "huawei_ak": "Access key (AK)",
    "huawei_sk": "Secret key (SK)", "huawei_publish_domains": "Ingest domains",
    "huawei_interrupt_s": "Interruption window", "huawei_callback_url": "Callback URL",
    "dc_service_id": "Service ID", "dc_auto_approve": "Approval", "dc_token_ttl_s": "Token lifetime",
    "allowed_hosts": "Host names", "allowed_origins": "Web origins", "media_dirs": "Media folders",
    "sync_dirs": "Export folders", "max_sources": "Most sources", "tls_cert": "TLS certificate",
    "tls_key": "TLS private key", "retention_days": "Delete after",
    "retention_max_gb": "Recordings at most", "segment_s": "New file every",
    "fsync_s": "Flush to disk every", "alert_kinds": "Announce", "alert_sound": "Sound",
    "gui_login": "Sign-in", "gui_lock_minutes": "Lock after",
}
LABEL_WIDTH = 136
HOSTNAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def restart_label(fields) -> str:
    order = list(LABELS)
    ranked = sorted(fields, key=lambda name: order.index(name) if name in order else len(order))
    return ", ".join(LABELS.get(name, name) for name in ranked)


class SettingsDialog(QDialog):
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
        self.resize(640, 600)

    # --- building --------------------------------------------------------------------------
    def _build(self) -> None:
        self.banner = Banner()
        self.tabs = QTabWidget()
        self.tabs.addTab(self._general_tab(), icon("settings"), "General")
        self.tabs.addTab(self._recording_tab(), icon("record"), "Recording")
        self.tabs.addTab(self._storage_tab(), icon("folder"), "Storage")
        self.tabs.addTab(self._api_tab(), icon("key"), "API")
        self.tabs.addTab(self._huawei_tab(), icon("plug"), "Huawei")
        self.tabs.addTab(self._device_connect_tab(), icon("plug"), "Device Connect")
        self.tabs.addTab(self._security_tab(), icon("key"), "Security")
        if self.station is not None and self.tasks is not None and may(self.role, "create user"):
            from ui.users_page import UsersPage

            self.users_page = UsersPage(self.station, self.tasks, self.who)
            self.tabs.addTab(self.users_page, icon("key"), "Users")
        where = hint_label(f"Saved to {self.config_file}")
        self.buttons = QDialogButtonBox(self)
        self.save_button = self.buttons.addButton("Save", QDialogButtonBox.ButtonRole.AcceptRole)
        self.save_button.setDefault(True)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.close_button.setAutoDefault(False)
        self.save_button.clicked.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 14, 14, 12)
        layout.setSpacing(10)
        layout.addWidget(self.banner)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(where)
        layout.addWidget(self.buttons)

    @staticmethod
    def _page(*widgets: QWidget) -> QWidget:
        """A tab: its forms in a column that scrolls rather than squeezes on a small screen."""
        page = QWidget()
        column = QVBoxLayout(page)
        column.setContentsMargins(16, 16, 16, 8)
        column.setSpacing(10)
        for widget in widgets:
            column.addWidget(widget)
        column.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(page)
        return scroll

    def _text(self, form: Form, key: str, hint: str | None = None, *, secret: bool = False,
              placeholder: str = "", extra: QWidget | None = None) -> QLineEdit:
        edit = SecretEdit() if secret else QLineEdit()
        edit.setPlaceholderText(placeholder)
        form.add(key, LABELS[key], edit, hint, extra=extra, focus=edit)
        self.fields[key] = (form, edit, lambda: edit.text().strip() or None,
                            lambda value: edit.setText("" if value is None else str(value)))
        return edit

    def _list(self, form: Form, key: str, hint: str, *, placeholder: str = "") -> QLineEdit:
        """A list setting edited as comma-separated text."""
        edit = self._text(form, key, hint, placeholder=placeholder)
        self.fields[key] = (form, edit, lambda: [v.strip() for v in edit.text().split(",") if v.strip()],
                            lambda value: edit.setText(", ".join(str(v) for v in value or ())))
        return edit

    def _number(self, form: Form, key: str, spin: QSpinBox | QDoubleSpinBox, hint: str,
                low: float, high: float, suffix: str) -> None:
        spin.setRange(low, high)
        spin.setSuffix(suffix)
        spin.setAlignment(Qt.AlignmentFlag.AlignLeft)
        spin.setMaximumWidth(180)
        form.add(key, LABELS[key], spin, hint)
        self.fields[key] = (form, spin, spin.value, spin.setValue)

    def _general_tab(self) -> QWidget:
        form = Form(label_width=LABEL_WIDTH)
        self._text(form, "station_name", "Shown in the window title, the APIs and synced copies")
        browse = QPushButton(icon("folder"), "Browse…")
        browse.clicked.connect(self._browse_storage)
        self.storage = self._text(form, "storage_dir", "Where recordings are written; "
                                  "empty: the recordings folder in the data folder",
                                  placeholder=str(self.settings.data_dir / "recordings"), extra=browse)
        self._text(form, "database_url", "Empty: SQLite in the data folder. Or "
                   "postgresql+psycopg://user:password@host/db", placeholder="SQLite (default)")
        return self._page(form, section_title("Alerts"), self._alerts_form())

    def _alerts_form(self) -> Form:
        """Which event kinds the window announces (a tray notification), and with a sound."""
        form = Form(label_width=LABEL_WIDTH)
        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 0, 0, 0)
        self.alert_checks: dict[str, QCheckBox] = {}
        for index, (name, kind) in enumerate(KINDS.items()):
            check = QCheckBox(name.replace("_", " "))
            check.setToolTip(kind.about)
            grid.addWidget(check, index // 3, index % 3)
            self.alert_checks[name] = check
        form.add("alert_kinds", LABELS["alert_kinds"], box, "A desktop notification from the "
                 "tray when an event of a ticked kind happens; every event is in the Events "
                 "panel anyway", focus=next(iter(self.alert_checks.values())))
        self.fields["alert_kinds"] = (
            form, box, lambda: [n for n, c in self.alert_checks.items() if c.isChecked()],
            lambda value: [c.setChecked(n in (value or ())) for n, c in self.alert_checks.items()])
        sound = QCheckBox("Beep with each notification")
        form.add("alert_sound", LABELS["alert_sound"], sound)
        self.fields["alert_sound"] = (form, sound, sound.isChecked, sound.setChecked)
        return form

    def _recording_tab(self) -> QWidget:
        form = Form(label_width=LABEL_WIDTH)
        preroll = QDoubleSpinBox()
        preroll.setDecimals(1)
        preroll.setSingleStep(0.5)
        self._number(form, "preroll_s", preroll, "A recording begins at the last keyframe at "
                     "least this long before Start. 0: the last keyframe.", 0, 120, " s")
        self._number(form, "preroll_mb", QSpinBox(), "Most memory the pre-roll may take per "
                     "source; older seconds are dropped first", 1, 4096, " MiB")
        return self._page(form)

    def _storage_tab(self) -> QWidget:
        """The disk floor, retention, file segments and fsync, with where the disk stands now
        (the storage guard's figures, refreshed while the dialog is open)."""
        guard = Form(label_width=LABEL_WIDTH)
        self._number(guard, "disk_floor_mb", QSpinBox(), "Under this much free space (on the "
                     "recordings' or the catalog's disk) retention makes room; if it cannot, "
                     "recordings stop, and none starts", 0, 10_000_000, " MB")
        self._number(guard, "retention_days", QSpinBox(), "Files of finished records older "
                     "than this are deleted, oldest first; 0: kept", 0, 36500, " days")
        cap = QDoubleSpinBox()
        cap.setDecimals(1)
        cap.setSingleStep(10)
        self._number(guard, "retention_max_gb", cap, "The oldest finished records go until "
                     "the recordings fit; 0: no cap. Protected records and records being "
                     "synced are never deleted", 0, 1_000_000, " GB")
        files = Form(label_width=LABEL_WIDTH)
        self._number(files, "segment_s", QSpinBox(), "A long recording continues in a new "
                     "file (a new record) at the first keyframe after this; 0: one file",
                     0, 7 * 24 * 3600, " s")
        flush = QDoubleSpinBox()
        flush.setDecimals(1)
        flush.setSingleStep(0.5)
        self._number(files, "fsync_s", flush, "At most this much recording is lost in a power "
                     "cut; 0: left to the operating system", 0, 3600, " s")
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
        return self._page(section_title("Now"), self.disk_figures,
                          section_title("Keeping the disk from filling up"), guard,
                          section_title("Files"), files)

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
        for name, fs in (("Recordings", status.storage), ("Catalog", status.catalog)):
            if fs is None or (name == "Catalog" and status.same_filesystem):
                continue
            mark = " — under the floor" if fs.below_floor else ""
            lines.append(f"{name}: {human_size(fs.free_bytes)} free of "
                         f"{human_size(fs.total_bytes)}{mark}")
        if status.same_filesystem and status.catalog is not None:
            lines[0] += " (the catalog on the same disk)"
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

    def _api_tab(self) -> QWidget:
        form = Form(label_width=LABEL_WIDTH)
        self._text(form, "host", "127.0.0.1: this computer only. 0.0.0.0: every network "
                   "interface (a token is then required)", placeholder="127.0.0.1")
        self._number(form, "port", QSpinBox(), "0 picks a free port at start", 0, 65535, "")
        self.generate_button = QPushButton(icon("refresh"), "Generate")
        self.generate_button.setToolTip("A new random token")
        self.generate_button.clicked.connect(lambda: self.token.setText(secrets.token_urlsafe(24)))
        self.token = self._text(form, "token", "Clients send it as Authorization: Bearer …, "
                                "X-Auth-Token or accessToken=…; empty: no token (loopback only)",
                                secret=True, extra=self.generate_button)
        notice = hint_label("Changes on this page take effect when the station restarts.")
        return self._page(form, notice)

    def _huawei_tab(self) -> QWidget:
        huawei = Form(label_width=LABEL_WIDTH)
        self._text(huawei, "huawei_project_id", "The {project_id} in /v1/{project_id}/record/"
                   "control; empty: any", placeholder="any")
        self._text(huawei, "huawei_app_id", "The {app_id} in /v2/apps/{app_id}/individual-stream-"
                   "jobs; empty: any", placeholder="any")
        self._text(huawei, "huawei_ak", "Clients sign requests with AK/SK (SDK-HMAC-SHA256)")
        self._text(huawei, "huawei_sk", secret=True)
        self._list(huawei, "huawei_publish_domains", "The publish_domain values accepted, "
                   "comma-separated; empty: any", placeholder="any")
        self._number(huawei, "huawei_interrupt_s", QSpinBox(), "A Live recording ends once its "
                     "source stays offline this long", 1, 3600, " s")
        self._text(huawei, "huawei_callback_url", "Recording events are POSTed here; empty: none",
                   placeholder="https://example.com/live/callback")
        return self._page(hint_label("For clients of the Huawei Live record-control and SparkRTC "
                                     "individual-stream-job APIs, served on this station's port."),
                          huawei)

    def _device_connect_tab(self) -> QWidget:
        dc = Form(label_width=LABEL_WIDTH)
        self._text(dc, "dc_service_id", "The serviceId clients address; empty: derived from the "
                   "station", placeholder="automatic")
        approve = QCheckBox("Issue access tokens without asking")
        dc.add("dc_auto_approve", LABELS["dc_auto_approve"], approve,
               "Unchecked: the operator approves each new client application")
        self.fields["dc_auto_approve"] = (dc, approve, approve.isChecked, approve.setChecked)
        self._number(dc, "dc_token_ttl_s", QSpinBox(), "How long an access token stays valid",
                     60, 31 * 24 * 3600, " s")
        return self._page(hint_label("For Device Connect (GotAPI) MediaStreamRecording apps, "
                                     "served under /gotapi on this station's port."), dc)

    def _security_tab(self) -> QWidget:
        web = Form(label_width=LABEL_WIDTH)
        self._list(web, "allowed_hosts", "Names clients reach this station by, besides its "
                   "address and localhost (*.example.org for subdomains); others are refused",
                   placeholder="station.lan")
        self._list(web, "allowed_origins", "Web pages that may change recordings or sources "
                   "through the API; any other page is refused", placeholder="https://wall.example")
        files = Form(label_width=LABEL_WIDTH)
        self._list(files, "media_dirs", "Folders file:// sources may play from; empty: none",
                   placeholder="none")
        self._list(files, "sync_dirs", "Folders a sync may copy recordings into",
                   placeholder=str(self.settings.data_dir / "exports"))
        self._number(files, "max_sources", QSpinBox(), "Creating more sources than this is "
                     "refused", 1, 100_000, "")
        tls = Form(label_width=LABEL_WIDTH)
        self._text(tls, "tls_cert", "PEM certificate chain; with a key, the API speaks HTTPS",
                   placeholder="plain HTTP")
        self._text(tls, "tls_key", "PEM private key of the certificate", placeholder="plain HTTP")
        sign_in = Form(label_width=LABEL_WIDTH)
        login = QCheckBox("Ask for a user name and password when the window opens")
        sign_in.add("gui_login", LABELS["gui_login"], login, "Applies at the next start; the "
                    "window then acts as the user who signed in (their role and groups)")
        self.fields["gui_login"] = (sign_in, login, login.isChecked, login.setChecked)
        self._number(sign_in, "gui_lock_minutes", QSpinBox(), "Lock the window after this long "
                     "without input (0: never; Ctrl+L locks at once)", 0, 24 * 60, " min")
        forms: list[QWidget] = [web, files, tls, sign_in]
        if self.station is not None:  # what an examiner compares a package's key with
            evidence = Form(label_width=LABEL_WIDTH)
            key = self.station.evidence.key
            self.evidence_key = QLineEdit(key.public_text)
            self.evidence_key.setReadOnly(True)
            evidence.add("evidence_public_key", "Evidence key", self.evidence_key,
                         f"Fingerprint {key.fingerprint}. Evidence packages are signed with "
                         "this station's key; give this public key (Ed25519, base64) to whoever "
                         "checks them (docs/evidence.md)")
            forms.append(evidence)
        return self._page(hint_label("Who may reach the station, and what its sources and syncs "
                                     "may touch (docs/security.md)."), *forms)

    def _browse_storage(self) -> None:
        start = self.storage.text() or str(self.settings.recordings_dir)
        chosen = QFileDialog.getExistingDirectory(self, "Storage folder for recordings", start)
        if chosen:
            self.storage.setText(chosen)

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
        if key in ("storage_dir", "tls_cert", "tls_key") and value is not None:
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
        storage = values["storage_dir"]
        if storage:
            path = Path(storage).expanduser()
            if not path.is_absolute():
                problems["storage_dir"] = "Give the full path of the folder."
            elif path.exists() and not path.is_dir():
                problems["storage_dir"] = "That is a file, not a folder."
            elif path.exists() and not os.access(path, os.W_OK | os.X_OK):
                problems["storage_dir"] = "The station cannot write in that folder."
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
            for index in range(self.tabs.count()):
                if self.tabs.widget(index).isAncestorOf(form):
                    self.tabs.setCurrentIndex(index)
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
        stored = {k: (Path(v) if k == "storage_dir" and v else v) for k, v in changes.items()}
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
