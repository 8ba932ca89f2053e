"""Sources ▸ Add source ▸ Find cameras: ONVIF cameras on the network, picked instead of typed.

"Find cameras" sends the station's WS-Discovery probe and lists who answered (name, model,
address); picking one fills its address (an address can also be typed, for a camera the
probe does not reach, as on another subnet). With the camera's user and password, "Read
profiles" asks it for its media profiles: the main stream (the largest) and the preview
stream (the smallest) are chosen for the operator and can be changed, the dialog's name is
filled when empty, and the camera's snapshot, when it offers one, shows in the preview panel.
Saving stores `uri_rtsp` and `uri_preview` with the login in them, as the service suggests,
and, for a camera with PTZ, its PTZ control (`source.onvif`, camera_import.keep_ptz).
The source is named from the camera: its ONVIF device name, else its model plus address
(app.services.camera_import decides).

Several at once (#27 item 7): the found cameras can be checked, and "Add checked cameras"
asks the dialog (`batch_requested`) to add them all with the login typed here, into the
dialog's group (app.services.camera_import.add_found_cameras), with a summary after.

Every call runs on the dialog's TaskRunner (the probe waits up to 2 s, a camera answers at
its own pace); what the core refuses comes back as the inline error of the field it names.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QComboBox, QLineEdit, QListWidget, QListWidgetItem, QPushButton, QWidget

from app.accounts.roles import may
from app.errors import StationError
from app.schemas import SourceOut
from app.services.camera_import import camera_name
from app.services.discovery import CameraProfile, CameraProfiles, FoundCamera
from app.station import Station
from ui.errors import error_text
from ui.forms import SecretEdit, if_alive, repolish
from ui.icons import icon
from ui.session import refusal
from ui.sources.source_kinds import join_credentials
from ui.sources.source_pages import FieldProblem, KindPage
from ui.tasks import TaskRunner

PROBE_WAIT_S = 2.0
NO_PREVIEW = "None (the wall decodes the main stream)"
FOUND = Qt.ItemDataRole.UserRole + 1  # a list item's FoundCamera


class FindCamerasPage(KindPage):
    kind, main_key = "onvif", "camera"
    picture = Signal(QImage, str)  # the camera's snapshot, for the preview panel
    camera_named = Signal(str)     # a name for the source, from the camera
    batch_requested = Signal()     # "Add checked cameras": the dialog adds them

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.station: Station | None = None
        self.tasks: TaskRunner | None = None
        self.found: CameraProfiles | None = None
        self.reading_login: tuple[str, str, str] = ("", "", "")
        self.probing = self.reading = False
        self.cameras = QListWidget()
        self.cameras.setMaximumHeight(120)
        self.cameras.currentItemChanged.connect(self._picked)
        self.cameras.itemChanged.connect(lambda _item: self._update_batch())
        self.probe_button = QPushButton(icon("refresh"), "Find cameras")
        self.probe_button.setAutoDefault(False)
        self.probe_button.clicked.connect(self.probe)
        self.add("search", "", self.probe_button)
        self.add("camera", "Cameras", self.cameras, "ONVIF cameras on this network answer within 2 s")
        self.address = self.add("address", "Address", QLineEdit(),
                                "Filled by picking a camera; or type host[:port] of one "
                                "the search does not reach")
        self.address.setPlaceholderText("192.168.1.64")
        self.user = self.add("user", "User", QLineEdit())
        self.user.setPlaceholderText("the camera's login, e.g. admin")
        self.password = self.add("password", "Password", SecretEdit())
        self.read_button = QPushButton(icon("camera-network"), "Read profiles")
        self.read_button.setAutoDefault(False)
        self.read_button.clicked.connect(self.read_profiles)
        self.add("read", "", self.read_button, "Asks the camera for its streams")
        self.add_checked_button = QPushButton(icon("add"), "Add checked cameras")
        self.add_checked_button.setAutoDefault(False)
        self.add_checked_button.setEnabled(False)
        self.add_checked_button.clicked.connect(self.batch_requested)
        self.add("batch", "", self.add_checked_button,
                 "Check cameras in the list: each is added with this login, its main and preview "
                 "streams, named from the camera, into the group above")
        self.main = self.add("main", "Main stream", QComboBox(), "Recorded, and shown when a tile is focused")
        self.preview = self.add("preview", "Preview stream", QComboBox(), "Shown by the wall's tiles")
        self._show_profiles(None)

    def attach(self, station: Station, tasks: TaskRunner) -> None:
        """The dialog hands over the station and its worker threads."""
        self.station, self.tasks = station, tasks

    # --- finding ---------------------------------------------------------------------------
    def probe(self) -> None:
        if self.probing or self.station is None:
            return
        self.probing = True
        self.probe_button.setEnabled(False)
        self.probe_button.setText("Searching…")
        self.clear_error("camera")
        discovery = self.station.discovery
        self.tasks.run(lambda: discovery.probe(PROBE_WAIT_S), self._probed)

    @if_alive
    def _probed(self, cameras: list[FoundCamera] | None, error) -> None:
        self.probing = False
        self.probe_button.setEnabled(True)
        self.probe_button.setText("Find cameras")
        self.cameras.clear()
        if error is not None:
            self.show_error("camera", error_text(error))
            return
        for camera in cameras:
            label = "  ·  ".join(part for part in (camera.name or "Unnamed camera", camera.model,
                                                   camera.address) if part)
            item = QListWidgetItem(icon("camera-network"), label)
            item.setData(Qt.ItemDataRole.UserRole, camera.address)
            item.setData(FOUND, camera)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Unchecked)
            self.cameras.addItem(item)
        self._update_batch()
        self._hint("camera", f"{len(cameras)} camera(s) found: pick one, then type its login."
                   if cameras else "No ONVIF camera answered. Is it on this network, with ONVIF "
                   "enabled? You can type its address instead.", notice=not cameras)
        if len(cameras) == 1:
            self.cameras.setCurrentRow(0)

    # --- several at once --------------------------------------------------------------------
    def _items(self) -> list[QListWidgetItem]:
        return [self.cameras.item(i) for i in range(self.cameras.count())]

    def checked_cameras(self) -> list[FoundCamera]:
        return [item.data(FOUND) for item in self._items()
                if item.checkState() == Qt.CheckState.Checked]

    def _update_batch(self) -> None:
        count = len(self.checked_cameras())
        allowed = may(getattr(self.station, "role", None), "create source")  # #26's roles
        self.add_checked_button.setEnabled(count > 0 and allowed)
        if not allowed:
            self.add_checked_button.setToolTip(refusal("create source"))
        self.add_checked_button.setText(f"Add {count} checked camera(s)" if count
                                        else "Add checked cameras")

    def remove_cameras(self, addresses: set[str]) -> None:
        """Added ones leave the list; those that failed stay, checked, to try again."""
        for item in self._items():
            if item.data(Qt.ItemDataRole.UserRole) in addresses:
                self.cameras.takeItem(self.cameras.row(item))
        self._update_batch()

    def _camera_at(self, address: str) -> FoundCamera | None:
        """The found camera whose profiles were read (None: an address typed by hand)."""
        return next((item.data(FOUND) for item in self._items()
                     if item.data(Qt.ItemDataRole.UserRole) == address), None)

    def _picked(self, item: QListWidgetItem | None, _previous=None) -> None:
        if item is not None:
            self.address.setText(item.data(Qt.ItemDataRole.UserRole))
            self._show_profiles(None)
            (self.user if not self.user.text() else self.password).setFocus()

    # --- reading profiles ------------------------------------------------------------------
    def read_profiles(self) -> None:
        if self.reading or self.station is None:
            return
        for key in ("address", "user", "password", "read"):
            self.clear_error(key)
        address = self.address.text().strip()
        if not address:
            self.show_error("address", "Pick a camera or type its address.")
            return
        self.reading = True
        self.read_button.setEnabled(False)
        self.read_button.setText("Reading…")
        user, password, discovery = self.user.text().strip(), self.password.text(), self.station.discovery
        self.reading_login = (address, user, password)  # what `found` was read with
        self.tasks.run(lambda: discovery.read_profiles(address, user, password), self._read)

    @if_alive
    def _read(self, found: CameraProfiles | None, error) -> None:
        self.reading = False
        self.read_button.setEnabled(True)
        self.read_button.setText("Read profiles")
        if error is not None:
            key = error.field if isinstance(error, StationError) and error.field in self.fields else "read"
            self.show_error(key, error_text(error, key) if isinstance(error, StationError)
                            else f"Unexpected error: {error}")
            self._show_profiles(None)
            return
        self._show_profiles(found)
        if not found.uri_rtsp:
            self.show_error("read", "The camera offers no RTSP stream the station can open.")
            return
        self.camera_named.emit(camera_name(self._camera_at(found.address), found))
        if found.snapshot_uri:
            uri, user, password = found.snapshot_uri, self.user.text().strip(), self.password.text()
            discovery = self.station.discovery
            self.tasks.run(lambda: discovery.snapshot(uri, user, password), self._snapshot)

    @if_alive
    def _snapshot(self, jpeg: bytes | None, error) -> None:
        image = QImage.fromData(jpeg, "JPEG") if error is None and jpeg else QImage()
        if not image.isNull():
            self.picture.emit(image, "The camera's snapshot (Test connection opens the main stream).")

    def _show_profiles(self, found: CameraProfiles | None) -> None:
        self.found = found
        self.main.clear()
        self.preview.clear()
        self.preview.addItem(NO_PREVIEW, None)
        streams = [p for p in (found.profiles if found else []) if p.stream_uri]
        for profile in streams:
            self.main.addItem(describe(profile), profile.stream_uri)
            self.preview.addItem(describe(profile), profile.stream_uri)
        if found is not None:
            self.main.setCurrentIndex(max(0, self.main.findData(found.uri_rtsp)))
            self.preview.setCurrentIndex(max(0, self.preview.findData(found.uri_preview)))
        for combo in (self.main, self.preview):
            combo.setEnabled(bool(streams))
        self._hint("read", f"{len(streams)} stream(s) read from {found.manufacturer or ''} "
                           f"{found.model or 'the camera'}".replace("  ", " ") if found
                   else "Asks the camera for its streams")

    def _hint(self, key: str, text: str, notice: bool = False) -> None:
        self.hints[key].setText(text)
        self.hints[key].setProperty("notice", notice)
        repolish(self.hints[key])

    def ptz_reading(self) -> tuple | None:
        """What keeps the camera's PTZ control with the source being added (camera_import.
        keep_ptz's arguments after the source): the reading and the login it was made with,
        not what the fields say now; None for a camera without PTZ."""
        if self.found is None or self.found.ptz is None:
            return None
        address, user, password = self.reading_login
        return address, self.found, user, password

    # --- the dialog's side -----------------------------------------------------------------
    def load(self, source: SourceOut) -> None:
        """A stored source is edited on its own kind's page: nothing to load here."""

    def payload(self) -> dict:
        main = self.main.currentData()
        if not main:
            raise FieldProblem("camera", "Find the camera, type its login and read its profiles.")
        preview = self.preview.currentData()
        snapshot = self.found.snapshot_uri if self.found is not None else None
        return {"uri_rtsp": main, "uri_preview": preview if preview != main else None,
                "uri_snapshot": join_credentials(snapshot, self.user.text().strip(),
                                                 self.password.text()) if snapshot else None}


def describe(profile: CameraProfile) -> str:
    size = f"{profile.width}×{profile.height}" if profile.width and profile.height else "size unknown"
    return " · ".join(part for part in (profile.name, size, profile.encoding) if part)
