"""Item 7 of issue #11: a flood of accept errors (EMFILE when descriptors run out) or of
malformed requests writes at most one log line per kind and second, each saying how many were
left out — the review saw 468 MB of log from 1,015 half-sent requests."""

from __future__ import annotations

import asyncio
import errno
import logging

from api.connections import loop_log, rate_limited_exception_handler


def test_accept_errors_are_logged_at_most_once_a_second(caplog, monkeypatch):
    handler = rate_limited_exception_handler()
    loop = asyncio.new_event_loop()
    now = [1000.0]
    for log_filter in loop_log.filters:
        monkeypatch.setattr(log_filter, "clock", lambda: now[0])
        monkeypatch.setattr(log_filter, "_last", {})
        monkeypatch.setattr(log_filter, "_dropped", {})
    error = OSError(errno.EMFILE, "Too many open files")
    try:
        with caplog.at_level(logging.ERROR, logger=loop_log.name):
            for second in range(3):
                for _ in range(5000):  # a tight accept loop failing 5,000 times a second
                    handler(loop, {"message": "socket.accept() out of system resource",
                                   "exception": error})
                    now[0] += 0.0002
                now[0] = 1000.0 + second + 1
            handler(loop, {"message": "socket.accept() out of system resource", "exception": error})
    finally:
        loop.close()
    lines = [r.getMessage() for r in caplog.records if r.name == loop_log.name]
    assert len(lines) == 4, lines  # one a second, 15,001 errors
    assert "Too many open files" in lines[0] and "left out" not in lines[0]
    assert all("4999 more like it left out" in line for line in lines[1:])
    assert not any(r.exc_info for r in caplog.records)  # an OS error: no traceback
