"""Station settings from four places, strongest first: CLI flags, `RS_*` environment
variables, the config file in the platformdirs config folder, built-in defaults.

The data folder holds both the catalog and the recordings, so `--data-dir` alone gives a
self-contained station (what tests and scripts rely on).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import threading
import tomllib
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs
from pydantic import Field, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from app import APP_NAME
from app.errors import InvalidInput
from app.uri_policy import CALLBACK_SCHEMES, check_uri, station_url
from recorder.outgoing import DEFAULT_NETWORKS, parse_networks

ALERT_KIND = re.compile(r"^[a-z][a-z0-9_]{0,31}$")  # an event kind's name (app.alarms.kinds)


def default_config_file() -> Path:
    override = os.environ.get("RS_CONFIG_FILE")
    if override:
        return Path(override)
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


class Settings(BaseSettings):
    """Everything the station needs to start; immutable once built."""

    # hide_input_in_errors: a refused value (a public_url or mqtt_url with a password) is never
    # repeated in the message printed at start or shown by the settings dialog.
    model_config = SettingsConfigDict(env_prefix="RS_", extra="ignore", frozen=True,
                                      hide_input_in_errors=True)

    host: str = "127.0.0.1"
    port: int = Field(4035, ge=0, le=65535)
    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir(APP_NAME)))
    storage_dir: Path | None = None
    database_url: str | None = Field(None, repr=False)  # may carry a password
    export_dir: Path | None = Field(None, description=(
        "The folder the GUI's Export writes footage into unless the operator picks another "
        "for one export (empty = the folder used last, at first the Videos folder)."))
    token: str | None = Field(None, repr=False)  # never in logs or reprs
    headless: bool = False
    demo: bool = True
    station_name: str = "Recording Station"
    disk_floor_mb: int = Field(500, ge=0)
    log_level: str = "INFO"
    # --- pre-roll: what a recording starts with (the packets buffered before Start) ---------
    preroll_s: float = Field(0.0, ge=0, le=120, description=(
        "Seconds of video a recording keeps from before Start: it begins at the last keyframe "
        "at least this long ago (0 = the last keyframe)."))
    preroll_mb: int = Field(16, ge=1, le=4096, description=(
        "Memory cap of the pre-roll per source, in MiB; older keyframe groups are dropped first."))
    motion_pre_s: float = Field(5.0, ge=0, le=60, description=(
        "Pre-capture of a source recording in `motion` mode: its record begins at a keyframe "
        "at least this long before the motion (the reader keeps that much, within preroll_mb)."))
    # --- Huawei dialects (Live record control, SparkRTC individual stream jobs) --------------
    huawei_project_id: str | None = Field(None, description=(
        "Huawei Live: the project_id in /v1/{project_id}/record/control (empty = any)."))
    huawei_app_id: str | None = Field(None, description=(
        "Huawei SparkRTC: the app_id in /v2/apps/{app_id}/individual-stream-jobs (empty = any)."))
    huawei_ak: str | None = Field(None, description=(
        "Huawei: the access key (AK) clients sign requests with (SDK-HMAC-SHA256)."))
    huawei_sk: str | None = Field(None, repr=False, description=(
        "Huawei: the secret key (SK) matching the AK; a secret, never shown or logged."))
    huawei_callback_url: str | None = Field(None, description=(
        "Huawei Live: URL the station POSTs recording events to (empty = no callbacks)."))
    huawei_publish_domains: list[str] = Field(default_factory=list, description=(
        "Huawei Live: the ingest domains START/STOP accept as publish_domain (empty = any)."))
    huawei_interrupt_s: int = Field(30, ge=1, le=3600, description=(
        "Huawei Live: a recording started by START ends once its source stays offline this "
        "many seconds (the interruption window)."))
    # --- Device Connect / GotAPI dialect ------------------------------------------------------
    dc_service_id: str | None = Field(None, description=(
        "Device Connect: the serviceId this station answers to (empty = derived from the station)."))
    dc_auto_approve: bool = Field(False, description=(
        "Device Connect: issue access tokens without asking the operator, to clients on this "
        "computer (loopback) only, and not to pages from origins outside allowed_origins."))
    dc_user: str | None = Field(None, max_length=64, description=(
        "Device Connect: the user account (#26) an application acts as when approved without "
        "the operator choosing one (auto-approve on loopback); its role bounds what the "
        "token's scopes allow (errorCode 14 beyond it), its scope the sources. Empty (or an "
        "account disabled or gone): the viewer role over every source."))
    dc_token_ttl_s: int = Field(3600, ge=60, le=31 * 24 * 3600, description=(
        "Device Connect: lifetime of an access token, in seconds."))
    # --- unattended operation (docs/reliability.md) -------------------------------------------
    retention_days: int = Field(0, ge=0, le=36500, description=(
        "Delete the files of finished records older than this many days (0 = keep them)."))
    retention_max_gb: float = Field(0.0, ge=0, description=(
        "Keep the recordings under this many GB, oldest finished records deleted first "
        "(0 = no cap)."))
    retention_check_s: float = Field(60.0, ge=5, le=3600, description=(
        "How often retention looks for files to delete, in seconds (a cap in GB is held to "
        "within what is recorded meanwhile)."))
    segment_s: int = Field(3600, ge=0, le=7 * 24 * 3600, description=(
        "A recording rolls over to a new file (a new record) at the first keyframe after "
        "this many seconds (0 = one file for the whole recording)."))
    reconnect_max_s: float = Field(30.0, ge=2, le=600, description=(
        "The longest wait between two attempts to reach a lost camera (main and preview "
        "streams): attempts come after about 1, 2, 4... seconds, then at most this far apart."))
    fsync_s: float = Field(2.0, ge=0, le=3600, description=(
        "Each open recording is flushed to the disk at most this often, so a power loss "
        "costs at most these seconds (0 = leave it to the operating system)."))
    # --- exports' work files (issue #21 item 3, docs/security.md "Exports") -----------------
    export_max_files: int = Field(8, ge=1, le=1000, description=(
        "API: exports being cut or sent at once, all clients together (a work file each until "
        "its last byte is sent); one more is refused (503)."))
    export_max_files_per_client: int = Field(2, ge=1, le=1000, description=(
        "API: exports being cut or sent at once for one client (its address, an IPv6 /64); "
        "one more is refused (429)."))
    export_max_mb: int = Field(32768, ge=1, description=(
        "API: MiB the work files of the exports being cut or sent may take, all together "
        "(503 beyond); each also needs room above disk_floor_mb (507)."))
    export_max_mb_per_client: int = Field(16384, ge=1, description=(
        "API: MiB the work files of one client's exports may take (429 beyond)."))
    export_stall_s: float = Field(60.0, ge=1, le=3600, description=(
        "API: an export whose reader takes no byte for this many seconds is cut off and its "
        "work file removed."))
    # --- security (docs/security.md) ----------------------------------------------------------
    allowed_hosts: list[str] = Field(default_factory=list, description=(
        "Host names (besides the bind address and loopback names) the native and Huawei "
        "dialects answer to; anything else is refused, which stops DNS rebinding."))
    allowed_origins: list[str] = Field(default_factory=list, description=(
        "Web origins (`https://host:port`) allowed to change state through the native and "
        "Huawei dialects; a state-changing request from any other page is refused."))
    media_dirs: list[Path] = Field(default_factory=list, description=(
        "Folders `file://` sources may read from (empty = no file sources)."))
    sync_dirs: list[Path] = Field(default_factory=list, description=(
        "Folders a directory sync may write into (empty = `<data_dir>/exports`)."))
    # --- outgoing addresses (issue #21 item 1, docs/security.md) ----------------------------
    allowed_source_networks: list[str] = Field(default_factory=lambda: list(DEFAULT_NETWORKS),
                                               description=(
        "Networks (`10.1.0.0/16`), addresses and host names the station may connect to for "
        "sources, previews, snapshots, syncs, callbacks and discovery (`any` = every public "
        "address too). Default: loopback and the private ranges, plus, while this is never set, "
        "the hosts of the sources and targets the station already had. Link-local and cloud "
        "metadata addresses are never opened."))
    max_sources: int = Field(256, ge=1, le=100_000, description=(
        "Most sources the catalog holds; creating one more is refused."))
    max_bookmarks_per_source: int = Field(1000, ge=1, le=1_000_000, description=(
        "Most bookmarks one source may have; creating one more is refused (422)."))
    max_bookmarks: int = Field(10_000, ge=1, le=10_000_000, description=(
        "Most bookmarks the catalog holds, all sources together; one more is refused (422)."))
    tls_cert: Path | None = Field(None, description=(
        "PEM certificate chain for HTTPS (with tls_key); empty = plain HTTP."))
    tls_key: Path | None = Field(None, description=(
        "PEM private key of tls_cert; read at start, never shown."))
    max_connections: int = Field(900, ge=16, le=100_000, description=(
        "API: open connections at most (within the open-files limit); at the cap, the "
        "connection that waited longest for a request makes room."))
    header_timeout_s: float = Field(10.0, ge=1, le=300, description=(
        "API: seconds a connection may wait for a complete request head (idle or half-sent)."))
    body_timeout_s: float = Field(10.0, ge=1, le=300, description=(
        "API: seconds a request body may stall (no byte received) before the connection closes."))
    max_connections_per_address: int = Field(128, ge=1, le=100_000, description=(
        "API: open connections one client may hold (an IPv4 address, an IPv6 /64, all of "
        "loopback as one); beyond it, that client's own idle or unauthenticated connections "
        "make room."))
    body_min_bytes_per_s: int = Field(1024, ge=0, le=1 << 30, description=(
        "API: once a request body has taken body_timeout_s, it must have averaged at least "
        "this many bytes per second, else the connection closes (0 = no minimum)."))
    # --- several stations as one (docs/scale-out.md) ------------------------------------------
    station_id: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                                   description=(
        "This station's identity in a shared catalog and on the MQTT bus; made (a UUID) and "
        "written to the config file on first start."))
    public_url: str | None = Field(None, description=(
        "How other stations reach this station's API (`http://10.0.0.5:4035`); empty = "
        "http://<host>:<port>."))
    mqtt_url: str | None = Field(None, repr=False, description=(
        "MQTT broker to publish state and events to and take commands from "
        "(`mqtt://user:pass@host:1883`, TLS with `mqtts://`); empty = no MQTT. May carry a "
        "password: never shown or logged."))
    # --- slow API calls and MQTT commands (issue #21 items 5 and 6) ---------------------------
    api_network_calls: int = Field(8, ge=1, le=256, description=(
        "API: slow network calls of one kind (camera discovery, starts and stops forwarded to "
        "other stations, finding the station that holds proxied media) run at once at most; "
        "one more is answered 503 at once. Catalog calls keep threads of their own."))
    mqtt_command_secret: str | None = Field(None, repr=False, description=(
        "MQTT: the key commands are signed with (HMAC-SHA256, docs/scale-out.md); empty = the "
        "station `token`. With neither, commands are taken unsigned (restrict the broker's "
        "ACLs). A secret: never shown or logged."))
    mqtt_user: str | None = Field(None, max_length=64, description=(
        "MQTT: the user account (#26) MQTT commands act as (its role and scope apply, the "
        "audit trail names it); empty = every command is refused (state is still published)."))
    mqtt_unsigned_switches: bool = Field(False, description=(
        "MQTT: with a command secret (or token), still take Home Assistant's group switches "
        "(`group/<id>/set` ON/OFF), which cannot be signed: the broker's ACLs then decide "
        "who may start and stop groups. Off: the switches are read-only state."))
    gui_login: bool = Field(False, description=(
        "GUI: ask for a user name and password at start (#26); the window then acts as that "
        "user. New installs write it on (the config file); an upgraded one keeps it off and "
        "says so once."))
    gui_lock_minutes: int = Field(0, ge=0, le=24 * 60, description=(
        "GUI: lock the window after this many minutes without input (0 = never; Ctrl+L "
        "locks at once). Unlocking asks for the signed-in user's password."))
    gui_login_notice_shown: bool = Field(False, description=(
        "GUI: the one-time notice of an upgraded install (accounts exist, sign-in is off and "
        "can be switched on in Settings) was shown; written by the window, not for editing."))
    motion_off_delay_s: float = Field(0.0, ge=0, le=3600, description=(
        "MQTT: seconds a source's `motion` topic stays ON after its motion event closed (the "
        "event's close already waits for 2 s without motion); motion again meanwhile keeps "
        "it ON. 0 = OFF as the event closes."))

    # --- alerts in the window (#23 item 4): which event kinds the GUI announces ---------------
    alert_kinds: list[str] = Field(
        default_factory=lambda: ["camera_lost", "recording_failed", "disk_low"], description=(
            "Event kinds the window announces with a tray notification (and a sound with "
            "`alert_sound`); every event is listed in the Events panel anyway."))
    alert_sound: bool = Field(False, description=(
        "A sound with each announced event (`alert_kinds`)."))

    @field_validator("allowed_source_networks")
    @classmethod
    def _allowed_source_networks(cls, value: list[str]) -> list[str]:
        """Each entry a network, an address or a host name (`recorder.outgoing`)."""
        parse_networks(value)
        return [str(entry).strip() for entry in value if str(entry).strip()]

    @field_validator("alert_kinds")
    @classmethod
    def _alert_kinds(cls, value: list[str]) -> list[str]:
        """Names of event kinds (app.alarms.kinds; one not known is simply never raised)."""
        for name in value:
            if not ALERT_KIND.match(str(name)):
                raise ValueError("alert_kinds holds event kind names such as camera_lost")
        return list(dict.fromkeys(value))

    @field_validator("huawei_callback_url")
    @classmethod
    def _callback_url(cls, value: str | None) -> str | None:
        """The station POSTs to it: http(s) only, no FFmpeg-style protocol anywhere (refused
        here, when the setting is saved or loaded, not silently at the first callback)."""
        if value:
            try:
                check_uri(value, field="huawei_callback_url", schemes=CALLBACK_SCHEMES)
            except InvalidInput as exc:
                raise ValueError(exc.message) from None
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        """Other stations send signed requests there, and it is shown in the API, on MQTT and
        in Home Assistant: `http(s)://host:port` only (app.uri_policy.station_url), never a
        user name or password, never an unspecified address (0.0.0.0) the others cannot use.
        The message never repeats the value (it may hold a password)."""
        if value:
            try:
                check_uri(value, field="public_url", schemes=CALLBACK_SCHEMES)
                return station_url(value)
            except InvalidInput as exc:
                raise ValueError(exc.message) from None
            except ValueError as exc:
                raise ValueError(f"public_url must be http(s)://host:port, the address the other "
                                 f"stations reach this one at, without a user name or password "
                                 f"(they authenticate with keys derived from the token): "
                                 f"{exc}") from None
        return value

    @field_validator("mqtt_url")
    @classmethod
    def _mqtt_url(cls, value: str | None) -> str | None:
        if value and urlsplit(value).scheme not in ("mqtt", "mqtts"):
            raise ValueError("mqtt_url must start with mqtt:// or mqtts://")  # never echo it
        return value or None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=default_config_file())
        return (init_settings, env_settings, toml)

    @model_validator(mode="after")
    def _derive_paths(self) -> "Settings":
        data_dir = self.data_dir.expanduser().resolve()
        object.__setattr__(self, "data_dir", data_dir)
        if self.storage_dir is None:
            object.__setattr__(self, "storage_dir", data_dir / "recordings")
        else:
            object.__setattr__(self, "storage_dir", self.storage_dir.expanduser().resolve())
        if not self.sync_dirs:
            object.__setattr__(self, "sync_dirs", [data_dir / "exports"])
        if self.export_dir is not None:
            object.__setattr__(self, "export_dir", self.export_dir.expanduser().resolve())
        object.__setattr__(self, "media_dirs",
                           [Path(p).expanduser().resolve() for p in self.media_dirs])
        object.__setattr__(self, "sync_dirs",
                           [Path(p).expanduser().resolve() for p in self.sync_dirs])
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together: set both or neither")
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{data_dir / 'catalog.sqlite3'}")
        if not self.is_loopback and not self.token:
            raise ValueError(
                f"the API binds to {self.host}, which is not a loopback address: "
                "set a token (RS_TOKEN or token in the config file) or bind to 127.0.0.1"
            )
        return self

    @property
    def is_loopback(self) -> bool:
        if self.host in ("localhost", ""):
            return self.host == "localhost"
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def recordings_dir(self) -> Path:
        assert self.storage_dir is not None
        return self.storage_dir


def load_settings(**overrides: Any) -> Settings:
    """Build settings; `overrides` are CLI flags (None means "not given")."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**given)


# --- writing the config file (the GUI's settings dialog) -------------------------------------
# Fields the running station took at start-up and cannot change under its feet: the API
# socket and its auth, where the catalog and the recordings live.
RESTART_FIELDS = frozenset({"host", "port", "token", "data_dir", "storage_dir", "database_url",
                            "tls_cert", "tls_key", "max_connections", "header_timeout_s",
                            "body_timeout_s", "max_connections_per_address",
                            "body_min_bytes_per_s", "station_id", "public_url", "mqtt_url",
                            "api_network_calls"})


class LiveSettings:
    """The settings a running station runs with now: the one object every service reads for
    what may change while it runs (a service keeps `live` and reads `live().disk_floor_mb` at
    the moment it decides, never a copy taken at start).

    A part that keeps state built from the settings (the recorder's workers, the compiled
    outgoing-address policy, the storage guard's thresholds) follows it instead: `follow`
    registers a callback run with the new settings after each change. Which fields a running
    station can take over is decided here, once: the `RESTART_FIELDS` keep the values the
    station started with until it restarts."""

    def __init__(self, settings: Settings):
        self._current = settings
        self._lock = threading.Lock()  # one change at a time (GUI, API, tests)
        self._followers: list[Callable[[Settings], None]] = []

    def __call__(self) -> Settings:
        return self._current

    @property
    def current(self) -> Settings:
        return self._current

    def follow(self, apply: Callable[[Settings], None]) -> None:
        """Run `apply(settings)` after every change (the composition registers each part)."""
        self._followers.append(apply)

    def take(self, new: Settings) -> set[str]:
        """Take over what a running station can change from `new`; return the changed fields
        that wait for a restart, which keep their running values."""
        with self._lock:
            old = self._current
            changed = {name for name in Settings.model_fields
                       if getattr(old, name) != getattr(new, name)}
            live = {name: getattr(new, name) for name in changed - RESTART_FIELDS}
            self._current = old.model_copy(update=live)
            for apply in self._followers:
                apply(self._current)
        return changed & RESTART_FIELDS

    def replace(self, new: Settings) -> None:
        """Run with `new` as it is, restart fields too: what a station started with `new`
        would run with (tests set up a case with it; operators go through `take`)."""
        with self._lock:
            self._current = new
            for apply in self._followers:
                apply(new)


def ensure_station_id(settings: Settings, path: Path | None = None) -> Settings:
    """`settings` with a `station_id`: a station that has none makes a UUID and keeps it in
    its config file, so it is the same station after every restart (a shared catalog knows
    its sources and records by it). No id yet means a new install: `gui_login` is written on
    with it."""
    if settings.station_id:
        return settings
    station_id = str(uuid.uuid4())
    # A new install (#26): sign-in at start is on, kept in the file with the id; an upgraded
    # one (an id already) keeps it off. RS_GUI_LOGIN, when set, decides instead.
    changes: dict[str, Any] = {"station_id": station_id}
    update: dict[str, Any] = {"station_id": station_id}
    if env_override("gui_login") is None:
        changes["gui_login"] = update["gui_login"] = True
    write_config(changes, path)
    return settings.model_copy(update=update)


def read_config(path: Path | None = None) -> dict[str, Any]:
    """The config file's contents ({} when it does not exist)."""
    path = path or default_config_file()
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}


def env_override(field: str) -> str | None:
    """The `RS_*` variable that sets `field` (and so beats the config file), if any."""
    name = f"RS_{field.upper()}"
    return next((key for key in os.environ if key.upper() == name), None)


def save_settings(current: Settings, changes: Mapping[str, Any], path: Path | None = None) -> Settings:
    """Check `changes` on top of `current`, then merge them into the config file (a value of
    None removes the key, so the default applies again) and return the resulting settings.
    Raises pydantic's ValidationError, naming the field, before anything is written."""
    values = {name: getattr(current, name) for name in Settings.model_fields}
    values.update(changes)  # storage_dir/database_url None: back to the data folder's default
    candidate = Settings(**values)
    write_config(changes, path)
    return candidate


def write_config(changes: Mapping[str, Any], path: Path | None = None) -> Path:
    """Merge `changes` into the TOML config file, keeping keys it does not mention; written to
    a temporary file and renamed over the old one, so a crash never leaves half a file."""
    path = path or default_config_file()
    data = read_config(path)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = str(value) if isinstance(value, Path) else value
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    # 0600 whatever the umask: the file can hold `token` and `huawei_sk`.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    if os.name == "posix":
        os.fchmod(fd, 0o600)  # a leftover .tmp keeps its old mode through O_CREAT
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(dump_toml(data))
    os.replace(tmp, path)
    return path


def dump_toml(data: Mapping[str, Any]) -> str:
    """Plain TOML for what a config holds: scalars and lists of them, tables one level deep."""
    scalars = [f"{key} = {_toml_value(v)}" for key, v in data.items() if not isinstance(v, Mapping)]
    tables = [f"\n[{key}]\n" + "".join(f"{k} = {_toml_value(x)}\n" for k, x in v.items())
              for key, v in data.items() if isinstance(v, Mapping)]
    return "\n".join(scalars) + ("\n" if scalars else "") + "".join(tables)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string
