"""The MQTT bus (issue #15 item 5): the station's state and events published to a broker, and
commands taken from it. To be built: see docs/scale-out.md."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.station import Station


class MqttBridge:
    def __init__(self, station: "Station") -> None:
        self.station = station

    @property
    def connected(self) -> bool:
        return False

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass
