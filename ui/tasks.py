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

from PySide6.QtCore import QObject, QTimer, Signal


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


class CoalescedLoad:
    """A view's read of the catalog, one at a time: asked again while a read runs, it reads
    once more when that one is done, so two reads never race and the last answer shown is
    never older than the last request. `fetch()` makes the blocking call to run (taking what
    it needs from the view on the GUI thread); `apply(result, error)` shows the answer.

    With `delay_ms`, `schedule()` reads `delay_ms` after the last of a burst of requests
    (a group of ten starting, a zoom, a word typed) instead of once per request."""

    def __init__(self, tasks: "TaskRunner", fetch: Callable[[], Callable[[], Any]],
                 apply: Callable[[Any, BaseException | None], None], *, delay_ms: int = 0,
                 parent: QObject | None = None):
        self.tasks, self._fetch, self._apply = tasks, fetch, apply
        self.running = False
        self._again = False
        self._timer = QTimer(parent, singleShot=True, interval=delay_ms)
        self._timer.timeout.connect(self.run)

    def schedule(self) -> None:
        """Read once the requests stop coming for `delay_ms`."""
        self._timer.start()

    @property
    def pending(self) -> bool:
        """A scheduled read is waiting for its delay."""
        return self._timer.isActive()

    def stop(self) -> None:
        """No scheduled read any more (the view is closing)."""
        self._timer.stop()

    def run(self) -> None:
        if self.running:
            self._again = True
            return
        self.running, self._again = True, False
        self.tasks.run(self._fetch(), self._done)

    def _done(self, result, error: BaseException | None) -> None:
        self.running = False
        self._apply(result, error)
        if self._again:
            self.run()


class ReloadsInBackground:
    """What a view that shows one CoalescedLoad (`self._load`) offers its owner: reload now,
    reload after a burst of changes, and whether a read is under way (tests wait on it)."""

    _load: CoalescedLoad

    def schedule_reload(self, *_args) -> None:
        self._load.schedule()

    def reload(self) -> None:
        self._load.run()

    @property
    def loading(self) -> bool:
        """A read is under way or scheduled (a wait for "the view shows what was asked"
        must not end on an older read that lands while the asked one waits for its delay)."""
        return self._load.running or self._load.pending
