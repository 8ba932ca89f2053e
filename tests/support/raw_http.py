"""Requests sent exactly as written (the target's percent-encodings, CR/LF and all), each from
another loopback address, for attacks on what the station logs and audits."""

from __future__ import annotations

import http.client
import itertools

# every request from its own loopback address: refusals count per address (429 after ten)
SOURCES = (f"127.0.{i // 250 + 1}.{i % 250 + 1}" for i in itertools.count())


def send_raw(host: str, port: int, method: str, target: str,
             headers: dict[str, str] | None = None, body: bytes | None = None) -> int:
    """One request with `target` as given; its status."""
    conn = http.client.HTTPConnection(host, port, timeout=15, source_address=(next(SOURCES), 0))
    try:
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()
