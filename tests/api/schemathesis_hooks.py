"""Schemathesis hooks of tests/api/test_openapi.py (loaded through SCHEMATHESIS_HOOKS).

Keeps the fuzzer's traffic on this machine: a URL it is about to send (a schema example such
as a sync target, or a value copied from a response) whose host is not loopback is pointed at
127.0.0.1 port 9, where nothing listens, before the request leaves. The station may act on
such a URL (a source reader, a sync to "another station"); it must never reach out.
"""

from __future__ import annotations

import re

import schemathesis

URL = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^@/\s?#]*@)?(\[[^\]]*\]|[^:/\s?#@]*)(:\d*)?")
LOOPBACK = re.compile(r"(?i)^(127\.\d+\.\d+\.\d+|localhost|\[::1\]|)$")


def _confine(value):
    if isinstance(value, str):
        return URL.sub(lambda m: m.group(0) if LOOPBACK.match(m.group(3))
                       else f"{m.group(1)}{m.group(2) or ''}127.0.0.1:9", value)
    if isinstance(value, dict):
        return {_confine(k): _confine(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_confine(v) for v in value]
    return value


@schemathesis.hook
def before_call(context, case, kwargs):
    for name in ("body", "query", "headers", "path_parameters"):
        value = getattr(case, name, None)
        if value is not None and not isinstance(value, (bytes, bytearray)):
            confined = _confine(value)
            if confined != value:
                setattr(case, name, confined)
