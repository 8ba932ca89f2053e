"""A real RTMP server for tests: nginx with Debian's `libnginx-mod-rtmp`, on loopback, in a
temporary prefix (its own config, logs and pid file), so forwarded streams can be read back."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from tests.support.ports import free_loopback_port

MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")
# What a test reading a stream back passes to `av.open`: FFmpeg probes a live RTMP stream
# for its default analyzeduration (5 s) before the first frame comes out (measured: 4 s of
# each read of a forward); the stream's parameters are in its first packets, so half a
# second of probing reads the same frames.
RTMP_PLAY = {"analyzeduration": "500000"}
CONFIG = """
load_module {module};
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
rtmp {{
    server {{
        listen 127.0.0.1:{port};
        chunk_size 4096;
        application live {{
            live on;
            record off;
            allow publish 127.0.0.1;
            allow play 127.0.0.1;
        }}
    }}
}}
"""


def skip_reason() -> str | None:
    if not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists():
        return "nginx is not installed (Debian packages nginx-light libnginx-mod-rtmp)"
    if not MODULE.exists():
        return f"{MODULE} is missing (Debian package libnginx-mod-rtmp)"
    return None


class RtmpServer:
    def __init__(self) -> None:
        self.prefix = Path(tempfile.mkdtemp(prefix="rtmp-"))
        self.port = free_loopback_port()
        self._proc: subprocess.Popen | None = None

    def url(self, stream: str) -> str:
        return f"rtmp://127.0.0.1:{self.port}/live/{stream}"

    def start(self) -> "RtmpServer":
        self.prefix.mkdir(parents=True, exist_ok=True)
        conf = self.prefix / "nginx.conf"
        conf.write_text(CONFIG.format(module=MODULE, prefix=self.prefix, port=self.port))
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self._proc = subprocess.Popen([nginx, "-p", str(self.prefix), "-c", str(conf)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.error_log()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), 0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen on {self.port}: {self.error_log()}")

    def error_log(self) -> str:
        log = self.prefix / "error.log"
        return log.read_text()[-2000:] if log.exists() else ""

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        shutil.rmtree(self.prefix, ignore_errors=True)
