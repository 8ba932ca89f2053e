"""The WS-Discovery multicast group, on loopback, for several ONVIF simulators at once.

Multicast does not reach loopback listeners in a test (tests/support/onvif_camera.py), so
each simulator listens on a UDP port of its own and the station's probe is sent to one
address (`Discovery.probe_to`). This relay is that address: a probe sent to it goes to every
simulator, and their answers come back to whoever sent the probe, as a multicast group would
deliver them. Real datagrams through real sockets, on a thread of its own.

    with ProbeFanout([cam_a.probe_address, cam_b.probe_address]) as group:
        station.discovery.probe_to = group.address
"""

from __future__ import annotations

import socket
import threading


class ProbeFanout:
    def __init__(self, members: list[tuple[str, int]]):
        self.members = list(members)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._relay, daemon=True, name="probe-fanout")
        self._asker: tuple[str, int] | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self._sock.getsockname()

    def _relay(self) -> None:
        while not self._stopping.is_set():
            try:
                data, sender = self._sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            if sender in self.members:  # an answer: back to the one who probed
                if self._asker is not None:
                    self._sock.sendto(data, self._asker)
            else:  # a probe: to every member
                self._asker = sender
                for member in self.members:
                    self._sock.sendto(data, member)

    def __enter__(self) -> "ProbeFanout":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()
        self._thread.join(5)
        self._sock.close()
