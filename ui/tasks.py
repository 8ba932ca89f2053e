"""Background work for the GUI: a blocking service call runs on a worker thread and its
result (or error) comes back to the GUI thread through a queued signal; its outcome is told
to the operator through a `Report`."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Protocol


class Report(Protocol):
    """How a panel tells the operator what came of an action: `error` says which kind of
    message it is (the window shows an error as a dialog too), never the wording."""

    def __call__(self, message: str, error: bool = False) -> None: ...

from PySide6.QtCore import QObject, Signal


class TaskRunner(QObject):
    _finished = Signal(object, object, object)  # callback, result, error

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="gui-task")
        self._finished.connect(self._deliver)
        self.pending = 0
        self.closed = False

    def run(self, fn: Callable[[], Any], on_done: Callable[[Any, BaseException | None], None]) -> None:
        if self.closed:
            return  # the window is closing: late refreshes (core events) have nobody to show to
        self.pending += 1
        future: Future = self._pool.submit(fn)
        future.add_done_callback(
            lambda f: self._finished.emit(on_done, None if f.exception() else f.result(), f.exception()))

    def _deliver(self, callback, result, error) -> None:
        self.pending -= 1
        callback(result, error)

    def shutdown(self) -> None:
        self.closed = True
        self._pool.shutdown(wait=True)
