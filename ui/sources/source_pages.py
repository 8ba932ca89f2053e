"""One form page per kind of source: the fields an operator fills in, turned into what the
service stores (`uri_rtsp` or `uri_http_picture`) and into what "Test connection" asks the
service to open (the same fields: `SourceService.probe` takes them).

A page raises `FieldProblem` for what it can tell is wrong before asking the core (an empty
address, a size that is not W×H, an address the station's URI policy refuses whatever the
settings); everything else the core checks (a file against `media_dirs`) and the dialog shows
its answer next to the field the error names.
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QToolButton,
    QWidget,
)

from app.errors import InvalidInput
from app.schemas import MASK, SourceOut
from app.services.devices import DeviceOut, DeviceService
from app.uri_policy import SOURCE_SCHEMES, TestPatternConfig, check_uri
from ui.forms import Form, SecretEdit, repolish
from ui.icons import icon
from ui.sources import source_kinds as kinds

USE_RUNNING_SOURCE = None  # probe_target(): show the running source's own picture instead


class FieldProblem(Exception):
    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key, self.message = key, message


class KindPage(Form):
    kind = ""
    main_key = ""  # the field that shows errors about the stored address

    # Every page defines `load` and `payload` (Qt widgets cannot take an ABC metaclass, so
    # the base says so at call time instead).
    def load(self, source: SourceOut) -> None:
        """Fill the page from a stored source."""
        raise TypeError(f"{type(self).__name__} does not define load()")

    def payload(self) -> dict:
        """{"uri_rtsp": ...} or {"uri_http_picture": {...}}; raises FieldProblem."""
        raise TypeError(f"{type(self).__name__} does not define payload()")

    def probe_target(self) -> dict | None:
        """What "Test connection" opens, as `payload()` gives it; USE_RUNNING_SOURCE when
        the stored secret is needed."""
        return self.payload()

    @staticmethod
    def _checked_uri(key: str, uri: str) -> str:
        """The station's URI policy (scheme, host, no nested protocol, a pattern's size) at
        once, before the round trip to the core; `file://` is left to the core, which knows
        the `media_dirs` of now."""
        try:
            check_uri(uri, field=key, schemes=SOURCE_SCHEMES)
        except InvalidInput as exc:
            problem = exc.message.removeprefix(f"{key}: ")
            raise FieldProblem(key, problem[:1].upper() + problem[1:]) from None
        return uri


class StreamPage(KindPage):
    kind, main_key = "stream", "url"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.loaded_uri: str | None = None
        self.url = self.add("url", "Address", QLineEdit(),
                            "rtsp://, rtsps://, rtmp://, srt://, udp:// or http(s):// "
                            "(HLS, MJPEG, MPEG-TS)")
        self.url.setPlaceholderText("rtsp://192.168.1.64:554/Streaming/Channels/101")
        self.user = self.add("user", "User", QLineEdit())
        self.user.setPlaceholderText("if the camera asks for one")
        self.password = self.add("password", "Password", SecretEdit())
        self.udp = self.add("udp", "", QCheckBox("RTSP over UDP"),
                            "TCP when unchecked: slower to start, but never loses packets")
        self.preview = self.add("preview", "Preview stream", QLineEdit(),
                                "optional: the camera's smaller sub-stream, shown by the wall's "
                                "tiles (same user and password); recordings use the address")
        self.preview.setPlaceholderText("rtsp://192.168.1.64:554/Streaming/Channels/102")

    def load(self, source: SourceOut) -> None:
        self.loaded_uri = source.uri_rtsp
        url, user, password, udp = kinds.split_credentials(source.uri_rtsp or "")
        self.url.setText(url)
        self.user.setText(user)
        self.password.setText(password or "")
        self.udp.setChecked(udp)
        self.preview.setText(kinds.split_credentials(source.uri_preview or "")[0])

    def _uri(self) -> str:
        url = self.url.text().strip()
        if not url:
            raise FieldProblem("url", "Enter the camera's address.")
        self._checked_uri("url", url)
        return kinds.join_credentials(url, self.user.text().strip(), self.password.text(),
                                      self.udp.isChecked())

    def _same_address(self, uri: str) -> bool:
        """Only the transport (`#udp`) differs from the stored address, if anything."""
        return uri.partition("#")[0] == (self.loaded_uri or "").partition("#")[0]

    def payload(self) -> dict:
        uri = self._uri()
        if MASK in uri and not self._same_address(uri):
            raise FieldProblem("password", "Type the password again: the address changed, and "
                                           "the stored password is never shown.")
        return {"uri_rtsp": uri, "uri_preview": self._preview_uri()}

    def _preview_uri(self) -> str | None:
        """The preview stream with the camera's login, or None (no preview stream)."""
        url = self.preview.text().strip()
        if not url:
            return None
        self._checked_uri("preview", url)
        return kinds.join_credentials(url, self.user.text().strip(), self.password.text(),
                                      self.udp.isChecked())

    def probe_target(self) -> dict | None:
        uri = self._uri()
        if MASK in uri:
            if self._same_address(uri):
                return USE_RUNNING_SOURCE
            raise FieldProblem("password", "Type the password to test the connection.")
        return {"uri_rtsp": uri}


class SnapshotPage(KindPage):
    kind, main_key = "snapshot", "url"
    AUTH = (("None", None), ("Basic", "basic"), ("Digest", "digest"))

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.loaded: dict | None = None
        self.url = self.add("url", "Picture URL", QLineEdit(),
                            "The address of the camera's JPEG snapshot (http:// or https://)")
        self.url.setPlaceholderText("http://192.168.1.64/ISAPI/Streaming/channels/101/picture")
        self.auth = self.add("auth", "Authentication", QComboBox())
        for label, value in self.AUTH:
            self.auth.addItem(label, value)
        self.user = self.add("user", "User", QLineEdit())
        self.password = self.add("password", "Password", SecretEdit())
        self.interval = self.add("interval", "Every", QDoubleSpinBox(),
                                 "Seconds between two pictures")
        self.interval.setRange(0.1, 3600)
        self.interval.setDecimals(1)
        self.interval.setSingleStep(0.5)
        self.interval.setSuffix(" s")
        self.interval.setValue(1.0)
        self.auth.currentIndexChanged.connect(self._auth_changed)
        self._auth_changed()

    def _auth_changed(self) -> None:
        needs_login = self.auth.currentData() is not None
        self.user.setEnabled(needs_login)
        self.password.setEnabled(needs_login)

    def load(self, source: SourceOut) -> None:
        picture = source.uri_http_picture
        if picture is None:
            return
        self.loaded = picture.model_dump(mode="json")
        self.url.setText(picture.uri)
        self.auth.setCurrentIndex(max(0, self.auth.findData(picture.auth.value if picture.auth else None)))
        self.user.setText(picture.user or "")
        self.password.setText(picture.password or "")
        self.interval.setValue(picture.interval)

    def payload(self) -> dict:
        url = self.url.text().strip()
        if not url:
            raise FieldProblem("url", "Enter the URL of the camera's snapshot.")
        if not url.lower().startswith(("http://", "https://")):
            raise FieldProblem("url", "A snapshot URL starts with http:// or https://.")
        auth = self.auth.currentData()
        user = self.user.text().strip() if auth else ""
        if auth and not user:
            raise FieldProblem("user", f"{self.auth.currentText()} authentication needs a user name.")
        return {"uri_http_picture": {
            "uri": url, "auth": auth, "user": user or None,
            "password": (self.password.text() or None) if auth else None,
            "interval": round(self.interval.value(), 1)}}

    def probe_target(self) -> dict | None:
        payload = self.payload()
        picture = payload["uri_http_picture"]
        if picture["password"] == MASK:
            stored = self.loaded or {}
            if all(picture[k] == stored.get(k) for k in ("uri", "auth", "user")):
                return USE_RUNNING_SOURCE
            raise FieldProblem("password", "Type the password to test the connection.")
        return payload


class DevicePage(KindPage):
    kind, main_key = "device", "device"
    NONE_FOUND = "No cameras found on this computer. Connect one and press Refresh, or type " \
                 "the device path (e.g. /dev/video0)."

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.device = QComboBox()
        self.device.setEditable(True)
        self.device.lineEdit().setPlaceholderText("/dev/video0")
        self.refresh_button = QToolButton()
        self.refresh_button.setIcon(icon("refresh"))
        self.refresh_button.setToolTip("Look for cameras again")
        self.refresh_button.clicked.connect(self.refresh)
        self.add("device", "Camera", self.device, self.NONE_FOUND, extra=self.refresh_button)
        self.devices: list[DeviceOut] = []
        self._device_service: DeviceService | None = None

    def attach(self, devices: DeviceService) -> None:
        """The station's device service, which lists the cameras (as the API does)."""
        self._device_service = devices
        self.refresh()

    def refresh(self) -> None:
        if self._device_service is None:
            return
        current = self.device_path()
        self.device.clear()
        self.devices = self._device_service.list()
        for device in self.devices:
            self.device.addItem(icon("webcam"), device.label, device.path)
        hint = self.hints["device"]
        hint.setText(self.NONE_FOUND if not self.devices else
                     f"{len(self.devices)} camera(s) found. Formats and sizes are the camera's own.")
        hint.setProperty("notice", not self.devices)
        repolish(hint)
        if current:
            self._select(current)

    def _select(self, path: str) -> None:
        index = self.device.findData(path)
        if index >= 0:
            self.device.setCurrentIndex(index)
        else:
            self.device.setEditText(path)

    @property
    def none_found(self) -> bool:
        return not self.devices

    def device_path(self) -> str:
        index = self.device.currentIndex()
        if index >= 0 and self.device.itemText(index) == self.device.currentText():
            return self.device.itemData(index)
        return self.device.currentText().strip()

    def load(self, source: SourceOut) -> None:
        self._select(kinds.path_of(source.uri_rtsp or ""))

    def payload(self) -> dict:
        path = self.device_path()
        if not path:
            raise FieldProblem("device", "Choose a camera. " + (self.NONE_FOUND if self.none_found else ""))
        return {"uri_rtsp": self._checked_uri("device", f"device://{path}")}


class ScreenPage(KindPage):
    kind, main_key = "screen", "display"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.display = QComboBox()
        self.display.setEditable(True)
        self.display.lineEdit().setPlaceholderText(":0.0")
        displays = kinds.list_displays()
        self.display.addItems(displays)
        self.add("display", "Display", self.display,
                 "The X11 display to record, at 10 pictures per second. Under Wayland only "
                 "X11 (XWayland) windows show." if displays else
                 "No X display found ($DISPLAY is not set): type one, e.g. :0")

    def load(self, source: SourceOut) -> None:
        self.display.setEditText(kinds.display_of(source.uri_rtsp or ""))

    def payload(self) -> dict:
        display = self.display.currentText().strip()
        if not display:
            raise FieldProblem("display", "Choose the display to capture, e.g. :0")
        return {"uri_rtsp": self._checked_uri("display", kinds.screen_uri(display))}


class PatternPage(KindPage):
    kind, main_key = "testsrc", "size"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.pattern = self.add("pattern", "Pattern", QComboBox())
        for key, label in kinds.PATTERNS.items():
            self.pattern.addItem(label, key)
        self.size = self.add("size", "Size", QComboBox(), "Width × height in pixels, both even")
        self.size.setEditable(True)
        self.size.addItems([s.replace("x", "×") for s in kinds.SIZES])
        self.size.setCurrentIndex(1)
        self.rate = self.add("rate", "Frame rate", QSpinBox())
        self.rate.setRange(1, 60)
        self.rate.setSuffix(" fps")
        self.rate.setValue(25)
        self.gop = self.add("gop", "Keyframe every", QDoubleSpinBox(),
                            "A recording starts at a keyframe: shorter means closer to Start")
        self.gop.setRange(0.2, 20)
        self.gop.setDecimals(1)
        self.gop.setSingleStep(0.5)
        self.gop.setSuffix(" s")
        self.gop.setValue(2.0)

    def load(self, source: SourceOut) -> None:
        config = kinds.test_pattern_of(source.uri_rtsp or "")
        self.pattern.setCurrentIndex(max(0, self.pattern.findData(config.pattern)))
        self.size.setEditText(f"{config.width}×{config.height}")
        self.rate.setValue(config.rate)
        self.gop.setValue(config.gop_seconds)

    def payload(self) -> dict:
        size = kinds.parse_size(self.size.currentText())
        if size is None:
            raise FieldProblem("size", "Write the size as width×height, e.g. 640×360.")
        uri = TestPatternConfig(*size, rate=self.rate.value(), gop_seconds=self.gop.value(),
                                pattern=self.pattern.currentData()).uri()
        try:
            check_uri(uri, field="size", schemes=SOURCE_SCHEMES)
        except InvalidInput as exc:  # "size: testsrc URI '…': size must be even, …"
            raise FieldProblem("size", exc.message.rsplit(": ", 1)[-1].capitalize() + ".") from None
        return {"uri_rtsp": uri}


class FilePage(KindPage):
    kind, main_key = "file", "path"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.path = QLineEdit()
        self.path.setPlaceholderText("/home/me/Videos/demo.mp4")
        browse = QPushButton(icon("folder"), "Browse…")
        browse.clicked.connect(self.browse)
        self.add("path", "File", self.path, "Played in a loop at its own speed, like a live "
                 "camera (demos, tests)", extra=browse, focus=self.path)

    def browse(self) -> None:
        start = str(Path(self.path.text()).parent) if self.path.text() else str(Path.home())
        chosen, _ = QFileDialog.getOpenFileName(
            self, "Choose a video file", start,
            "Videos (*.mp4 *.mkv *.mov *.avi *.ts *.webm *.flv);;All files (*)")
        if chosen:
            self.path.setText(chosen)

    def load(self, source: SourceOut) -> None:
        self.path.setText(kinds.path_of(source.uri_rtsp or ""))

    def payload(self) -> dict:
        path = self.path.text().strip()
        if not path:
            raise FieldProblem("path", "Choose a video file.")
        if not os.path.isfile(os.path.expanduser(path)):
            raise FieldProblem("path", "There is no such file.")
        return {"uri_rtsp": kinds.file_uri(path)}  # the core checks it against media_dirs


PAGES: dict[str, type[KindPage]] = {page.kind: page for page in (
    StreamPage, SnapshotPage, DevicePage, ScreenPage, PatternPage, FilePage)}
