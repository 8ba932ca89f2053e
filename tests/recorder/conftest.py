"""What the recorder's tests share: a RecorderManager with the defaults, shut down after the
test (a test that needs other arguments defines its own `manager`)."""

from __future__ import annotations

import pytest

from recorder.manager import RecorderManager


@pytest.fixture
def manager():
    m = RecorderManager()
    yield m
    m.shutdown()
