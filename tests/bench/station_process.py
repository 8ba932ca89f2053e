"""What the benchmark scripts share: a headless station in its own process on a fresh data
folder, driven through its native API, and CPU readings from /proc."""
from __future__ import annotations

import json
import os
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.support.station_process import terminate

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), in seconds."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def wait_for(predicate, timeout: float, what: str) -> None:
    """Poll `predicate` until it holds; a benchmark that cannot get going says what it waited for."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.2)


def machine_cpu() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    with open("/proc/stat") as fh:
        values = [int(x) for x in fh.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class HeadlessStation:
    """`command` (e.g. `[".venv/bin/recording-station"]`) started with `--headless --no-demo
    --port 0` on `data_dir`; its log goes next to the data folder."""

    def __init__(self, command: list[str], data_dir: Path, *, cwd: Path | None = None,
                 env: dict[str, str] | None = None):
        self.data_dir = data_dir
        self.log_path = data_dir.parent / "station.log"
        self.log = open(self.log_path, "wb")
        # a config folder of its own: the station keeps its credentials key there
        env = dict(os.environ, RS_CONFIG_FILE=str(data_dir.parent / "config" / "recording-station.toml"),
                   **(env or {}))
        self.proc = subprocess.Popen(
            command + ["--headless", "--no-demo", "--port", "0", "--data-dir", str(data_dir)],
            cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        self.url = self._wait_for_url()

    def _wait_for_url(self, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log_path.read_text(errors="replace").splitlines():
                if line.startswith("API: "):
                    return line.split()[1].rstrip("/")
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"station did not start:\n{self.log_path.read_text(errors='replace')}")

    def timed_call(self, method: str, path: str, body: dict | None = None) -> tuple[object, float]:
        """(decoded JSON, round trip in seconds)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise RuntimeError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from None
        return json.loads(payload), time.perf_counter() - started

    def call(self, method: str, path: str, body: dict | None = None) -> object:
        return self.timed_call(method, path, body)[0]

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        terminate(self.proc)
        self.log.close()
