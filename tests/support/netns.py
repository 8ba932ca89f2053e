"""Two throw-away network namespaces joined by a veth pair, so a test can run a station and a
client that is NOT on loopback (the station sees a real remote address) without touching the
host's network: the pair is created inside the first namespace and its other end moved
straight into the second; deleting both namespaces (always, in `close`) removes everything.

    with NetPair() as net:                      # needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN)
        station = StationProcess(tmp_path, host="0.0.0.0", prefix=net.prefix("station"), ...)
        out = net.python("client", "print(1)")   # runs inside the client namespace

Addresses come from TEST-NET-2 (198.51.100.0/24, RFC 5737): the station's end is
`STATION_ADDRESS`, the client's `CLIENT_ADDRESS`; each namespace has its own loopback too.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STATION_ADDRESS = "198.51.100.1"
CLIENT_ADDRESS = "198.51.100.2"
PREFIX_LEN = 24


def available() -> str | None:
    """None when namespaces can be made here, else why not (for a pytest skip)."""
    if shutil.which("ip") is None:
        return "the ip command (iproute2) is not installed"
    if os.geteuid() != 0:
        return "network namespaces need root"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=15)


class NetPair:
    def __init__(self) -> None:
        tag = secrets.token_hex(3)
        self.names = {"station": f"rs-st-{tag}", "client": f"rs-cl-{tag}"}
        self._made: list[str] = []
        self._veth = (f"rsv{tag}a", f"rsv{tag}b")  # interface names: at most 15 characters

    def __enter__(self) -> "NetPair":
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _create(self) -> None:
        station, client = self.names["station"], self.names["client"]
        for name in (station, client):
            _ip("netns", "add", name)
            self._made.append(name)
            _ip("-n", name, "link", "set", "lo", "up")
        here, there = self._veth
        _ip("-n", station, "link", "add", here, "type", "veth", "peer", "name", there,
            "netns", client)
        for name, dev, address in ((station, here, STATION_ADDRESS),
                                   (client, there, CLIENT_ADDRESS)):
            _ip("-n", name, "addr", "add", f"{address}/{PREFIX_LEN}", "dev", dev)
            _ip("-n", name, "link", "set", dev, "up")

    def close(self) -> None:
        """Delete the namespaces made (their interfaces go with them); idempotent."""
        while self._made:
            subprocess.run(["ip", "netns", "del", self._made.pop()], capture_output=True,
                           timeout=15)

    def prefix(self, which: str) -> list[str]:
        """The command prefix that runs a program inside `station` or `client`."""
        return ["ip", "netns", "exec", self.names[which]]

    def python(self, which: str, code: str, *, timeout: float = 60.0) -> str:
        """Run Python `code` inside a namespace (from the project root); its stdout."""
        done = subprocess.run([*self.prefix(which), sys.executable, "-c", code], cwd=ROOT,
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"the script in {which} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout
