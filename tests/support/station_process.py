"""A real `recording-station --headless` process for tests that attack or drive it from the
outside: its own data folder, settings through `RS_*` variables, the log kept in a file so a
test can check what was (and was not) written there.

    with StationProcess(tmp_path, env={"RS_TOKEN": "s3cret"}) as st:
        status, body, headers = st.call("GET", "/api/v1/source", token="s3cret")
"""

from __future__ import annotations

import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from tests.support.catalog_template import seed_catalog

ROOT = Path(__file__).resolve().parents[2]


def terminate(proc: subprocess.Popen, timeout: float = 30.0) -> int:
    """Stop a station as the operator's service manager would (SIGTERM: recordings are
    finalized), killing it only if it does not exit in time; its exit code."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


class StationProcess:
    def __init__(self, tmp_path: Path, *, env: dict[str, str] | None = None,
                 args: list[str] | None = None, name: str = "station", host: str = "127.0.0.1",
                 ssl_context: ssl.SSLContext | None = None, start_timeout: float = 60.0,
                 prefix: list[str] | None = None):
        """`prefix` runs the station under a command (`ip netns exec <ns>`: tests.support.netns)."""
        self.data_dir = tmp_path / name
        if "RS_DATABASE_URL" not in (env or {}) and not (args and "--data-dir" in args):
            seed_catalog(self.data_dir, with_admin=True)  # tests.support.catalog_template
        self.log_path = tmp_path / f"{name}.log"
        self.ssl_context = ssl_context
        self._log = open(self.log_path, "wb")
        full_env = {**os.environ, "RS_CONFIG_FILE": str(tmp_path / f"{name}-config.toml"),
                    "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc = subprocess.Popen(
            [*(prefix or []), sys.executable, "-m", "app", "--headless", "--no-demo",
             "--port", "0", "--host", host, "--data-dir", str(self.data_dir), *(args or [])],
            cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT, env=full_env)
        self.url = self._wait_for_url(start_timeout)
        parts = urlsplit(self.url)
        self.host, self.port = parts.hostname, parts.port

    def _wait_for_url(self, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.log_text().splitlines():
                if line.startswith("API: "):
                    return line.split()[1].rstrip("/")
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the station did not start:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def request(self, method: str, path: str, *, body: bytes | None = None,
                headers: dict[str, str] | None = None, timeout: float = 15.0):
        """(status, raw body, headers) of one request; HTTP errors are answers, not raises."""
        req = urllib.request.Request(self.url + path, data=body, method=method,
                                     headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=self.ssl_context) as resp:
                return resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), exc.headers

    def expect(self, method: str, path: str, body: object | None = None, *, token: str,
               expect: int = 200):
        """A JSON request that must answer `expect`; its decoded answer."""
        status, data, _ = self.call(method, path, body, token=token, timeout=30)
        assert status == expect, (method, path, status, data)
        return data

    def call(self, method: str, path: str, json_body: object | None = None, *,
             token: str | None = None, headers: dict[str, str] | None = None,
             timeout: float = 15.0):
        """A JSON request; (status, decoded JSON or raw bytes, headers)."""
        hdrs = dict(headers or {})
        data = None
        if json_body is not None:
            data = json.dumps(json_body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        if token:
            hdrs.setdefault("Authorization", f"Bearer {token}")
        status, raw, response_headers = self.request(method, path, body=data, headers=hdrs,
                                                     timeout=timeout)
        if "json" in response_headers.get("Content-Type", ""):
            try:
                return status, json.loads(raw or b"null"), response_headers
            except ValueError:
                pass
        return status, raw, response_headers

    def stop(self) -> int | None:
        terminate(self.proc)
        self._log.close()
        return self.proc.returncode

    def __enter__(self) -> "StationProcess":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
