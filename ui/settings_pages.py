"""The settings dialog's pages, named in an operator's words (#27 item 8): General, Recording,
Storage, Cameras, Alerts, then the Integrations an integrator sets up once (the API, Device
Connect, Huawei Cloud, MQTT, Site, Security).

Why a separate module: the dialog (ui.settings_dialog) decides how values are read, checked,
saved and audited; this module only lays fields out. Each field is registered in
`self.fields` (key -> form, widget, getter, setter), so moving a field to another page
changes nothing in how it is saved. Labels and hints speak of what the operator sees
("Recordings folder", "Database"); the config key and its RS_* variable are in each field's
tooltip, for whoever edits the file by hand.

`SettingsPages` is a mixin of SettingsDialog: its builders need the dialog's `settings`,
`station` and `fields`.
"""

from __future__ import annotations

import secrets
from typing import Any

from app.alarms.kinds import KINDS
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ui.forms import Form, SecretEdit, hint_label, section_title
from ui.icons import icon

LABELS = {
    "station_name": "Station name", "storage_dir": "Recordings folder",
    "export_dir": "Exports folder", "database_url": "Database",
    "preroll_s": "Pre-roll", "preroll_mb": "Pre-roll memory", "motion_pre_s": "Before motion",
    "disk_floor_mb": "Keep free on disk",
    "host": "Bind address", "port": "Port", "token": "Access token",
    "huawei_project_id": "Project ID", "huawei_app_id": "RTC app ID", "huawei_ak": "Access key (AK)",
    "huawei_sk": "Secret key (SK)", "huawei_publish_domains": "Ingest domains",
    "huawei_interrupt_s": "Interruption window", "huawei_callback_url": "Callback URL",
    "dc_service_id": "Service ID", "dc_auto_approve": "Approval", "dc_user": "Acts as user",
    "dc_token_ttl_s": "Token lifetime",
    "allowed_hosts": "Host names", "allowed_origins": "Web origins", "media_dirs": "Video file folders",
    "allowed_source_networks": "Camera networks", "reconnect_max_s": "Retry a lost camera",
    "sync_dirs": "Sync folders", "max_sources": "Most cameras", "tls_cert": "TLS certificate",
    "tls_key": "TLS private key", "retention_days": "Delete after",
    "retention_max_gb": "Recordings at most", "segment_s": "New file every",
    "fsync_s": "Flush to disk every", "alert_kinds": "Announce", "alert_sound": "Sound",
    "gui_login": "Sign-in", "gui_lock_minutes": "Lock after",
    "mqtt_url": "MQTT broker", "mqtt_user": "Commands act as", "mqtt_command_secret": "Command key",
    "mqtt_unsigned_switches": "Switches", "motion_off_delay_s": "Motion stays on",
    "public_url": "Address for other stations",
}
LABEL_WIDTH = 150


def technical_tip(key: str) -> str:
    """What an integrator looks for: the key in the config file and the variable beating it."""
    return f"{key} in the config file (RS_{key.upper()} in the environment)"


class SettingsPages:
    """Builders of the pages; mixed into SettingsDialog (see the module docstring)."""

    fields: dict[str, tuple[Form, QWidget, Any, Any]]

    def page_list(self) -> list:
        """The list on the left: (title, icon, builder); None is the "Integrations" heading."""
        return [("General", "settings", self._general_page),
                ("Recording", "record", self._recording_page),
                ("Storage", "folder", self._storage_page), ("Cameras", "camera", self._cameras_page),
                ("Alerts", "info", self._alerts_page), None,
                ("API", "key", self._api_page), ("Device Connect", "plug", self._device_connect_page),
                ("Huawei Cloud", "plug", self._huawei_page), ("MQTT", "plug", self._mqtt_page),
                ("Site", "plug", self._site_page), ("Security", "key", self._security_page)]

    # --- fields ------------------------------------------------------------------------------
    @staticmethod
    def _page(*widgets: QWidget) -> QScrollArea:
        """A page: its forms in a column that scrolls vertically rather than squeezes on a
        small screen, never sideways (hints wrap)."""
        page = QWidget()
        column = QVBoxLayout(page)
        column.setContentsMargins(16, 8, 16, 8)
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

    def _row(self, form: Form, key: str, widget: QWidget, getter, setter, hint: str | None = None,
             *, extra: QWidget | None = None, focus: QWidget | None = None) -> None:
        form.add(key, LABELS[key], widget, hint, extra=extra, focus=focus)
        (focus or widget).setToolTip(technical_tip(key))
        self.fields[key] = (form, widget, getter, setter)

    def _text(self, form: Form, key: str, hint: str | None = None, *, secret: bool = False,
              placeholder: str = "", extra: QWidget | None = None) -> QLineEdit:
        edit = SecretEdit() if secret else QLineEdit()
        edit.setPlaceholderText(placeholder)
        self._row(form, key, edit, lambda: edit.text().strip() or None,
                  lambda value: edit.setText("" if value is None else str(value)), hint,
                  extra=extra, focus=edit)
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
        self._row(form, key, spin, spin.value, spin.setValue, hint)

    def _check(self, form: Form, key: str, text: str, hint: str | None = None) -> QCheckBox:
        check = QCheckBox(text)
        self._row(form, key, check, check.isChecked, check.setChecked, hint)
        return check

    def _folder(self, form: Form, key: str, hint: str, placeholder: str, title: str) -> QLineEdit:
        browse = QPushButton(icon("folder"), "Browse…")
        edit = self._text(form, key, hint, placeholder=placeholder, extra=browse)

        def choose() -> None:
            chosen = QFileDialog.getExistingDirectory(self, title, edit.text() or placeholder)
            if chosen:
                edit.setText(chosen)
        browse.clicked.connect(choose)
        return edit

    # --- the operator's pages ----------------------------------------------------------------
    def _general_page(self) -> QWidget:
        form = Form(label_width=LABEL_WIDTH)
        self._text(form, "station_name", "Shown in the window title, to other programs and on "
                   "synced copies")
        self._folder(form, "storage_dir", "Where recordings are written; empty: the recordings "
                     "folder in the data folder", str(self.settings.data_dir / "recordings"),
                     "Folder for recordings")
        self._folder(form, "export_dir", "Where Export saves footage unless you pick another "
                     "folder for one export; empty: the folder used last",
                     "the folder used last", "Folder for exports")
        return self._page(form)

    def _recording_page(self) -> QWidget:
        form = Form(label_width=LABEL_WIDTH)
        preroll = QDoubleSpinBox()
        preroll.setDecimals(1)
        preroll.setSingleStep(0.5)
        self._number(form, "preroll_s", preroll, "A recording begins at the last keyframe at "
                     "least this long before Start. 0: the last keyframe.", 0, 120, " s")
        self._number(form, "preroll_mb", QSpinBox(), "Most memory the pre-roll may take per "
                     "camera; older seconds are dropped first", 1, 4096, " MiB")
        before = QDoubleSpinBox()
        before.setDecimals(1)
        self._number(form, "motion_pre_s", before, "A camera recording on motion keeps this "
                     "much from before the motion (within the pre-roll memory)", 0, 60, " s")
        files = Form(label_width=LABEL_WIDTH)
        self._number(files, "segment_s", QSpinBox(), "A long recording continues in a new "
                     "file at the first keyframe after this; 0: one file", 0, 7 * 24 * 3600, " s")
        flush = QDoubleSpinBox()
        flush.setDecimals(1)
        flush.setSingleStep(0.5)
        self._number(files, "fsync_s", flush, "At most this much recording is lost in a power "
                     "cut; 0: left to the operating system", 0, 3600, " s")
        return self._page(section_title("When a recording starts"), form,
                          section_title("Files"), files)

    def _storage_page(self) -> QWidget:
        """The disk floor and retention, with where the disk stands now (ui.settings_figures)."""
        guard = Form(label_width=LABEL_WIDTH)
        self._number(guard, "disk_floor_mb", QSpinBox(), "Under this much free space (on the "
                     "disk of the recordings or of the database) old recordings are deleted "
                     "to make room; if that cannot be done, recording stops", 0, 10_000_000, " MB")
        self._number(guard, "retention_days", QSpinBox(), "Finished recordings older than this "
                     "are deleted, oldest first; 0: kept", 0, 36500, " days")
        cap = QDoubleSpinBox()
        cap.setDecimals(1)
        cap.setSingleStep(10)
        self._number(guard, "retention_max_gb", cap, "The oldest finished recordings go until "
                     "the rest fit; 0: no cap. Protected recordings and recordings being "
                     "synced are never deleted", 0, 1_000_000, " GB")
        database = Form(label_width=LABEL_WIDTH)
        self._text(database, "database_url", "Where the list of recordings, cameras and events "
                   "is kept. Empty: a file in the data folder; or a PostgreSQL server's address "
                   "(hidden: it may hold a password)", secret=True,
                   placeholder="in the data folder (default)")
        return self._page(section_title("Now"), self._figures_label(),
                          section_title("Keeping the disk from filling up"), guard,
                          section_title("Database"), database)

    def _cameras_page(self) -> QWidget:
        form = Form(label_width=LABEL_WIDTH)
        self._list(form, "allowed_source_networks", "Networks, addresses and host names the "
                   "station may connect to for cameras, pictures, syncs and discovery "
                   "(10.1.0.0/16; any: every public address too). Until this is first saved, "
                   "cameras added earlier stay reachable wherever they are",
                   placeholder="private networks")
        self._list(form, "media_dirs", "Folders video-file sources may play from; empty: none",
                   placeholder="none")
        self._number(form, "max_sources", QSpinBox(), "Adding more cameras than this is "
                     "refused", 1, 100_000, "")
        retry = QDoubleSpinBox()
        retry.setDecimals(0)
        self._number(form, "reconnect_max_s", retry, "A lost camera is tried again after "
                     "about 1, 2, 4… seconds, then at least this often (Test connection on "
                     "its tile tries at once)", 2, 600, " s")
        return self._page(form, hint_label("Which stream the wall shows is each camera's own "
                                           "(Edit source: its preview stream)."))

    def _alerts_page(self) -> QWidget:
        """Which event kinds the window announces (a tray notification), and with a sound."""
        form = Form(label_width=LABEL_WIDTH)
        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 0, 0, 0)
        self.alert_checks: dict[str, QCheckBox] = {}
        for index, (name, kind) in enumerate(KINDS.items()):
            check = QCheckBox(name.replace("_", " "))
            check.setToolTip(kind.about)
            grid.addWidget(check, index // 2, index % 2)
            self.alert_checks[name] = check
        self._row(form, "alert_kinds", box,
                  lambda: [n for n, c in self.alert_checks.items() if c.isChecked()],
                  lambda value: [c.setChecked(n in (value or ())) for n, c in self.alert_checks.items()],
                  "A desktop notification from the tray when an event of a ticked kind "
                  "happens; every event is in the Events panel anyway",
                  focus=next(iter(self.alert_checks.values())))
        self._check(form, "alert_sound", "Beep with each notification")
        return self._page(form)

    # --- integrations ------------------------------------------------------------------------
    def _api_page(self) -> QWidget:
        form = Form(label_width=LABEL_WIDTH)
        self._text(form, "host", "127.0.0.1: this computer only. 0.0.0.0: every network "
                   "interface (a token is then required)", placeholder="127.0.0.1")
        self._number(form, "port", QSpinBox(), "0 picks a free port at start", 0, 65535, "")
        self.generate_button = QPushButton(icon("refresh"), "Generate")
        self.generate_button.setToolTip("A new random token")
        self.generate_button.clicked.connect(lambda: self.token.setText(secrets.token_urlsafe(24)))
        self.token = self._text(form, "token", "Clients send it as Authorization: Bearer …, "
                                "X-Auth-Token or accessToken=…; empty: no token (this computer "
                                "only)", secret=True, extra=self.generate_button)
        tls = Form(label_width=LABEL_WIDTH)
        self._text(tls, "tls_cert", "PEM certificate chain; with a key, the API speaks HTTPS",
                   placeholder="plain HTTP")
        self._text(tls, "tls_key", "PEM private key of the certificate", placeholder="plain HTTP")
        web = Form(label_width=LABEL_WIDTH)
        self._list(web, "allowed_hosts", "Names clients reach this station by, besides its "
                   "address and localhost (*.example.org for subdomains); others are refused",
                   placeholder="station.lan")
        self._list(web, "allowed_origins", "Web pages that may change recordings or cameras "
                   "through the API; any other page is refused", placeholder="https://wall.example")
        return self._page(hint_label("The station's programming interface. Changes to the "
                                     "address, port, token and certificate take effect when "
                                     "the station restarts."), form,
                          section_title("HTTPS"), tls, section_title("Who may call it"), web)

    def _device_connect_page(self) -> QWidget:
        dc = Form(label_width=LABEL_WIDTH)
        self._text(dc, "dc_service_id", "The serviceId clients address; empty: derived from the "
                   "station", placeholder="automatic")
        self._check(dc, "dc_auto_approve", "Issue access tokens without asking",
                    "Unchecked: the operator approves each new client application")
        self._text(dc, "dc_user", "The user account an application approved without asking "
                   "acts as; empty: a viewer of every camera", placeholder="a viewer")
        self._number(dc, "dc_token_ttl_s", QSpinBox(), "How long an access token stays valid",
                     60, 31 * 24 * 3600, " s")
        return self._page(hint_label("For Device Connect (GotAPI) MediaStreamRecording apps, "
                                     "served under /gotapi on this station's port."), dc)

    def _huawei_page(self) -> QWidget:
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
                     "camera stays offline this long", 1, 3600, " s")
        self._text(huawei, "huawei_callback_url", "Recording events are POSTed here; empty: none",
                   placeholder="https://example.com/live/callback")
        return self._page(hint_label("For clients of the Huawei Live record-control and SparkRTC "
                                     "individual-stream-job APIs, served on this station's port."),
                          huawei)

    def _mqtt_page(self) -> QWidget:
        form = Form(label_width=LABEL_WIDTH)
        self._text(form, "mqtt_url", "mqtt://user:password@host:1883 (mqtts:// for TLS); the "
                   "station publishes its state and events there and takes commands. Empty: no "
                   "MQTT. Applies at the next start", secret=True, placeholder="no MQTT")
        self._text(form, "mqtt_user", "The user account commands act as (its role and cameras "
                   "apply); empty: every command is refused", placeholder="none")
        self._text(form, "mqtt_command_secret", "The key commands are signed with; empty: the "
                   "API's access token", secret=True, placeholder="the access token")
        self._check(form, "mqtt_unsigned_switches", "Take unsigned group switches",
                    "Home Assistant's group switches cannot be signed: the broker's "
                    "access rules then decide who may start and stop groups")
        delay = QDoubleSpinBox()
        delay.setDecimals(1)
        self._number(form, "motion_off_delay_s", delay, "A camera's motion topic stays ON this "
                     "long after its motion ended", 0, 3600, " s")
        return self._page(hint_label("Home Assistant and other MQTT clients (docs/scale-out.md)."),
                          form)

    def _site_page(self) -> QWidget:
        form = Form(label_width=LABEL_WIDTH)
        self._text(form, "public_url", "How the other stations of the site reach this one "
                   "(http://10.0.0.5:4035); empty: this station's bind address and port. "
                   "Applies at the next start", placeholder="automatic")
        ident = QLineEdit(self.settings.station_id or "")
        ident.setReadOnly(True)
        ident.setToolTip(technical_tip("station_id"))
        form.add("station_id_shown", "This station's ID", ident, "Made at the first start; "
                 "the other stations know this one by it")
        return self._page(hint_label("Several stations sharing one database (docs/scale-out.md)."),
                          form)

    def _security_page(self) -> QWidget:
        sign_in = Form(label_width=LABEL_WIDTH)
        self._check(sign_in, "gui_login", "Ask for a user name and password at start",
                    "Applies at the next start; the window then acts as the user "
                    "who signed in (their role and groups)")
        self._number(sign_in, "gui_lock_minutes", QSpinBox(), "Lock the window after this long "
                     "without input (0: never; Ctrl+L locks at once)", 0, 24 * 60, " min")
        files = Form(label_width=LABEL_WIDTH)
        self._list(files, "sync_dirs", "Folders a sync may copy recordings into",
                   placeholder=str(self.settings.data_dir / "exports"))
        forms: list[QWidget] = [sign_in, files]
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
        return self._page(hint_label("Who may use the window, and where syncs may write "
                                     "(docs/security.md)."), *forms)
