"""File rotation, the part that happens after the cut.

The reader thread cuts a long recording at a video keyframe (`SourceWorker._roll`): the old
file stops right before the keyframe, a new one starts with it. Everything slow about the old
file (flushing an encoder, closing the container, the MD5 of a file that may hold an hour)
happens here, on a thread of its own, and the core hears of it through `on_rollover` once the
old file is final. Until that callback has returned, the core does not know the new record id
yet, so this module also keeps what the worker needs to stay truthful in between:

- `live_id`: a record id that rolled over still names the recording: pause, mute, stop follow
  it to the file being written now.
- a stop of such an id stops the live file too and keeps its result (`stash`) for the core,
  which asks for it by the new id once `on_rollover` told it about that id.
- a failure of a file the core has not heard of yet is reported after its `on_rollover`.

Callbacks of one source are delivered in the order the cuts happened.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable

from recorder.mp4file import RecordingResult

log = logging.getLogger(__name__)
# (source_id, old_record_id, old_result, new_record_id, new_path, new_begin_wall)
RolloverCallback = Callable[[int, str, RecordingResult, str, Path, float], None]


class Handover:
    """One cut: the old file being finalized and the record id that goes on."""

    def __init__(self, old_id: str, recording, new_id: str, new_path: Path, begin_wall: float):
        self.old_id, self.recording = old_id, recording
        self.new_id, self.new_path, self.begin_wall = new_id, new_path, begin_wall
        self.done = threading.Event()  # the old file is closed and `result` is set
        self.result: RecordingResult | None = None


class Rollovers:
    """The cuts of one source whose `on_rollover` has not returned yet."""

    def __init__(self, source_id: int, on_rollover: RolloverCallback,
                 on_failure: Callable[[str, str], None]):
        self._source_id = source_id
        self._on_rollover = on_rollover
        self._on_failure = on_failure
        self._lock = threading.Lock()
        self._by_old: dict[str, Handover] = {}
        self._unannounced: set[str] = set()          # new ids the core has not heard of
        self._deferred: dict[str, str] = {}          # their failures, reported afterwards
        self._stashed: dict[str, RecordingResult] = {}  # their results, if stopped meanwhile
        self._last: threading.Thread | None = None

    def submit(self, old_id: str, recording, new_id: str, new_path: Path, begin_wall: float,
               sync: bool) -> None:
        """From the reader thread: finalize `recording` and tell the core, in the background."""
        handover = Handover(old_id, recording, new_id, new_path, begin_wall)
        with self._lock:
            self._by_old[old_id] = handover
            self._unannounced.add(new_id)
            previous = self._last
            thread = threading.Thread(target=self._finish, args=(handover, previous, sync),
                                      name=f"rollover-{old_id[:8]}", daemon=True)
            self._last = thread
        thread.start()

    def _finish(self, handover: Handover, previous: threading.Thread | None, sync: bool) -> None:
        try:
            handover.result = handover.recording.close(sync=sync)
        except Exception as exc:  # noqa: BLE001 - the core must hear of the cut whatever happened
            log.exception("closing %s after a rollover failed", handover.recording.path)
            handover.result = RecordingResult(handover.recording.path, None, None, 0.0, 0, None,
                                              0, error=f"closing the file failed: {exc}")
        finally:
            handover.done.set()
        if previous is not None:
            previous.join()  # the core hears of the cuts in order
        try:
            self._on_rollover(self._source_id, handover.old_id, handover.result,
                              handover.new_id, handover.new_path, handover.begin_wall)
        except Exception:  # noqa: BLE001
            log.exception("source %s: on_rollover failed", self._source_id)
        with self._lock:
            self._by_old.pop(handover.old_id, None)
            self._unannounced.discard(handover.new_id)
            message = self._deferred.pop(handover.new_id, None)
        if message is not None:
            self._on_failure(handover.new_id, message)

    # --- asked by the worker (holding its own lock) -----------------------------------
    def live_id(self, record_id: str) -> str:
        """The id whose file is written now for `record_id` (itself unless it rolled over)."""
        with self._lock:
            while record_id in self._by_old:
                record_id = self._by_old[record_id].new_id
            return record_id

    def pending(self, record_id: str) -> Handover | None:
        with self._lock:
            return self._by_old.get(record_id)

    def defer_failure(self, record_id: str, message: str) -> bool:
        """Hold a failure of a file the core has not heard of yet; True when held."""
        with self._lock:
            if record_id not in self._unannounced:
                return False
            self._deferred[record_id] = message
            return True

    def stash(self, record_id: str, result: RecordingResult) -> None:
        with self._lock:
            self._stashed[record_id] = result

    def take_stashed(self, record_id: str) -> RecordingResult | None:
        with self._lock:
            return self._stashed.pop(record_id, None)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every cut so far has been reported (tests, shutdown)."""
        with self._lock:
            last = self._last
        if last is not None:
            last.join(timeout)
            return not last.is_alive()
        return True
