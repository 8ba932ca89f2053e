"""The timeline's hover thumbnail: a picture of the instant under the pointer (the keyframe at
or before it), decoded off the GUI thread one at a time (only the newest request waits: the
pointer moves faster than files decode).

Where it goes (#25 item 3): beside the pointer, never over it and never over the lane and
instant the operator is reading: a small tool-tip window to the right of the pointer (to its
left near the screen's right edge), centred on it vertically and kept on the screen, so it
may stand outside a timeline only two lanes high instead of being cut by it. While a context
menu of the timeline is open the thumbnail is hidden and asks for nothing (`suppress`): a
tool-tip window sits above menus, and the menu is what the operator is reading then.
"""

from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QLabel, QWidget

from ui.media import VideoReader
from ui.recordings.player import rgb_image
from ui.recordings.remote_records import RecordFiles
from ui.tasks import TaskRunner

THUMB_BOX = (192, 108)
GAP_PX = 18  # between the pointer and the thumbnail's near edge


def beside(anchor: QPoint, size, area: QRect) -> QPoint:
    """The top-left corner of a `size` box beside `anchor` (global), within `area`: right of
    it, or left when it would not fit; centred on it vertically, kept inside."""
    x = anchor.x() + GAP_PX
    if x + size.width() > area.right():
        x = anchor.x() - GAP_PX - size.width()
    y = anchor.y() - size.height() // 2
    y = max(area.top(), min(y, area.bottom() - size.height()))
    return QPoint(max(area.left(), x), y)


class HoverThumbnail(QLabel):
    def __init__(self, view: QWidget, tasks: TaskRunner, files: RecordFiles):
        super().__init__(view)
        # A tool-tip window owned by the view: it may stand outside it, goes with it, takes
        # neither the focus nor the mouse (the pointer beside it keeps hovering the lanes).
        self.setWindowFlags(Qt.WindowType.ToolTip | Qt.WindowType.FramelessWindowHint)
        self.setAttribute(Qt.WidgetAttribute.WA_ShowWithoutActivating)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setStyleSheet("background: #111418; color: white; padding: 2px;")
        self.view, self.tasks, self.files = view, tasks, files
        self._busy = False
        self._wanted: tuple | None = None
        self._suppressed = False
        self.anchor: QPoint | None = None  # where the pointer was (global) when last placed
        self.hide()
        view.installEventFilter(self)

    def eventFilter(self, _watched, event: QEvent) -> bool:  # noqa: N802 - Qt naming
        """A window of its own outlives what hides the view (another tab, the window
        minimised, another window in front): it goes with it."""
        if event.type() in (QEvent.Type.Hide, QEvent.Type.WindowDeactivate):
            self.hide_now()
        return False

    def want(self, record, offset: float, pos: QPointF, moment: datetime) -> None:
        """A thumbnail of `offset` seconds into `record`, for the pointer at `pos` (view)."""
        if self._suppressed:
            return
        self._wanted = (record, offset, pos, moment)
        if not self._busy:
            self._next()

    def hide_now(self) -> None:
        self._wanted = None
        self.hide()

    def suppress(self, on: bool) -> None:
        """While a menu is open: hidden, and no new one asked for."""
        self._suppressed = on
        if on:
            self.hide_now()

    def _next(self) -> None:
        wanted, self._wanted = self._wanted, None
        if wanted is None:
            return
        record, offset, pos, moment = wanted
        self._busy = True
        files = self.files

        def decode():
            reader = VideoReader(files.target(record), box=THUMB_BOX)
            try:
                frame = reader.seek(offset)
                return rgb_image(frame.rgb) if frame is not None else None
            finally:
                reader.close()

        def shown(image, error: BaseException | None) -> None:
            self._busy = False
            if self._wanted is not None:
                self._next()  # the pointer has moved on: show the newest instead
                return
            if error is not None or image is None or self._suppressed:
                self.hide_now()
                return
            self.setPixmap(QPixmap.fromImage(image))
            self.setToolTip(f"{record.tag_name} · {moment.astimezone():%H:%M:%S}")
            self.adjustSize()
            self.place(pos)
            self.show()
            self.raise_()

        self.tasks.run(decode, shown)

    def place(self, pos: QPointF) -> None:
        """Beside the pointer at `pos` (view coordinates), on the view's screen."""
        self.anchor = self.view.mapToGlobal(pos.toPoint())
        screen = self.view.screen()
        area = screen.availableGeometry() if screen is not None else self.view.window().geometry()
        self.move(beside(self.anchor, self.size(), area))
