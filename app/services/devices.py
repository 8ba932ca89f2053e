"""The capture devices of this computer: the V4L2 cameras (`/dev/video*`) a `device://` source
can record, with the driver's name for each.

Asked by the GUI's "Local camera" form (ui.sources.source_pages) and by
`GET /api/v1/device`, so an operator at the window and a remote tool see the same list; the
GUI once looked through `/dev` itself. Only nodes that capture video are listed: a USB camera
also shows a metadata node, which is left out. A node whose driver cannot be asked (no
permission, an odd driver) is still listed, since a `device://` source may still open it.
"""

from __future__ import annotations

import fcntl
import os
import struct
from pathlib import Path

from pydantic import BaseModel, Field

DEV_DIR = Path("/dev")
SYS_V4L = Path("/sys/class/video4linux")

VIDIOC_QUERYCAP = 0x80685600
V4L2_CAP_VIDEO_CAPTURE = 0x1
V4L2_CAP_DEVICE_CAPS = 0x80000000


class DeviceOut(BaseModel):
    path: str = Field(description="the device node, e.g. `/dev/video0`: a source's URI is "
                                  "`device://` followed by it")
    name: str = Field(description="the driver's name for it; empty when it gives none")
    uri: str = Field(description="the `uri_rtsp` of a source recording it")

    @property
    def label(self) -> str:
        return f"{self.name}  ({self.path})" if self.name else self.path


def _captures_video(path: Path) -> bool | None:
    """True/False from the driver's capabilities; None when it cannot be asked."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        caps = fcntl.ioctl(fd, VIDIOC_QUERYCAP, bytes(104))
    except OSError:
        return None
    finally:
        os.close(fd)
    capabilities, device_caps = struct.unpack_from("<II", caps, 84)
    effective = device_caps if capabilities & V4L2_CAP_DEVICE_CAPS else capabilities
    return bool(effective & V4L2_CAP_VIDEO_CAPTURE)


class DeviceService:
    """Lists local capture devices; holds nothing, asks the machine each time (a camera may
    be plugged in at any moment)."""

    def list(self) -> list[DeviceOut]:
        """`/dev/video*` nodes that capture video, in number order; empty when there are none."""
        found = []
        for path in sorted(DEV_DIR.glob("video*"), key=lambda p: (len(p.name), p.name)):
            if _captures_video(path) is False:
                continue
            try:
                name = (SYS_V4L / path.name / "name").read_text(encoding="utf-8").strip()
            except OSError:
                name = ""
            found.append(DeviceOut(path=str(path), name=name, uri=f"device://{path}"))
        return found
