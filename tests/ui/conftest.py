"""What the GUI tests share: the task runner a dialog or panel hands its work to, shut down
after the test so no worker thread outlives its widgets."""

from __future__ import annotations

import pytest

from ui.application import ensure_application
from ui.tasks import TaskRunner


@pytest.fixture
def tasks(qtbot):
    ensure_application()
    runner = TaskRunner()
    yield runner
    runner.shutdown()
    runner.deleteLater()
