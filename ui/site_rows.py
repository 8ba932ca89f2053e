"""How the sources tree shows a station of the site: its name and free disk space on the row,
a green or grey dot for online or offline, and a tooltip that says why it is offline, how
much room it has left and where the others reach it.

Plain functions of a `StationOut` (what `station.site.list()` answers), so the panel only
places rows and the words live here, where a test can read them.
"""

from __future__ import annotations

from PySide6.QtGui import QIcon

from app.redaction import mask_uri
from app.site.stations import StationOut
from ui.recordings.recordings_model import dot_icon, human_size

ONLINE_COLOUR, OFFLINE_COLOUR = "#2ecc71", "#95a5a6"


def station_label(station: StationOut) -> str:
    """'north · 412.3 GB free', '(this station)' added to the one the GUI runs on."""
    text = station.name + (" (this station)" if station.this else "")
    if station.disk is not None and station.disk.total_bytes:
        text += f" · {human_size(station.disk.free_bytes)} free"
    return text if station.online else f"{text} · offline"


def station_tip(station: StationOut) -> str:
    """Online or why not, its disk against its floor, its recordings and address."""
    lines = ["online" if station.online else f"offline: {station.offline_reason}"]
    disk = station.disk
    if disk is not None and disk.total_bytes:
        lines.append(f"disk: {human_size(disk.free_bytes)} free of {human_size(disk.total_bytes)}"
                     f" (recording stops under {human_size(disk.floor_bytes)})")
    lines.append(f"{len(station.sources)} source(s), {station.recordings_running} recording")
    lines.append(f"version {station.version}" + (f" · {mask_uri(station.url)}" if station.url else ""))
    return "\n".join(lines)


def station_icon(online: bool) -> QIcon:
    return dot_icon(ONLINE_COLOUR if online else OFFLINE_COLOUR)
