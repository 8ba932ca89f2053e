"""The station's `reconnect_max_s` (Settings ▸ Cameras, #27 item 8) bounds how long a lost
camera waits for its next attempt, live: a reader deep into its backoff (where the default
would wait 15-30 s) waits at most the new cap once it is changed. Watched on the reader's own
`retry_at`, set as each wait begins; the camera is a port nobody listens on."""

from __future__ import annotations

import time

from recorder.manager import RecorderManager
from recorder.worker import SourceSpec
from tests.conftest import wait_until
from tests.support.unit_check import free_port


def test_a_lost_camera_waits_at_most_the_cap_set_while_it_runs():
    manager = RecorderManager(reconnect_max_s=30.0)
    url = f"rtsp://127.0.0.1:{free_port()}/none"
    manager.ensure_source(SourceSpec(id=1, name="gone", uri=url, uri_preview=url + "/sub"))
    try:
        worker = manager._workers[1]
        assert worker._backoff.cap == worker._preview_backoff.cap == 30.0
        wait_until(lambda: worker.retry_at is not None, 10, message="a first failed attempt")
        worker._backoff.attempt = 8  # as after a long outage: 15-30 s with the default cap
        manager.set_reconnect_max_s(2.0)
        assert worker._preview_backoff.cap == 2.0
        first = worker.retry_at
        wait_until(lambda: worker.retry_at not in (None, first), 10, interval=0.01,
                   message="the next wait")
        assert worker.retry_at - time.time() <= 2.0
        assert worker._backoff.attempt >= 9  # it was the deep backoff's wait, capped
    finally:
        manager.shutdown()
